/** Image I/O with sharp: decode, resize, encode, colour handling and contact sheets. */
export { luminanceOnly, transferLuminance } from './colour.js';
export { type ContactSheetOptions, contactSheet, LABEL_HEIGHT, type Panel } from './contact-sheet.js';
export {
  DEFAULT_MAX_PIXELS,
  type DecodedImage,
  type DecodeOptions,
  decodeImage,
  type ImageInput,
  type ImageMetadata,
  readImageMetadata,
} from './decode.js';
export {
  DEFAULT_QUALITY,
  type EncodeOptions,
  encodeImage,
  outputFormatFromPath,
  toUint8,
  writeFileAtomic,
} from './encode.js';
export { OUTPUT_EXTENSIONS, type OutputFormat } from './formats.js';
export { fitLongestSide, resizeImage } from './resize.js';
