/**
 * The image formats the product reads and writes: one table for file extensions, content types and
 * sharp's format names, imported by decoding, encoding, the S3 key conventions and the CLI.
 */

/** Formats results can be written in. */
export const OUTPUT_FORMATS = ['jpeg', 'png', 'webp', 'avif', 'tiff'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

interface OutputFormatFacts {
  /** Extensions that select the format, the one written first. */
  readonly extensions: readonly string[];
  readonly contentType: string;
}

const OUTPUT_FORMAT_FACTS: Readonly<Record<OutputFormat, OutputFormatFacts>> = {
  jpeg: { extensions: ['jpg', 'jpeg'], contentType: 'image/jpeg' },
  png: { extensions: ['png'], contentType: 'image/png' },
  webp: { extensions: ['webp'], contentType: 'image/webp' },
  avif: { extensions: ['avif'], contentType: 'image/avif' },
  tiff: { extensions: ['tif', 'tiff'], contentType: 'image/tiff' },
};

/** The extension written for a format ('jpg' for jpeg). */
export const extensionFor = (format: OutputFormat): string => OUTPUT_FORMAT_FACTS[format].extensions[0];

export const contentTypeFor = (format: OutputFormat): string => OUTPUT_FORMAT_FACTS[format].contentType;

/** Every output extension with its dot, in table order: '.jpg', '.jpeg', '.png', ... */
export const OUTPUT_EXTENSIONS: readonly string[] = OUTPUT_FORMATS.flatMap((f) =>
  OUTPUT_FORMAT_FACTS[f].extensions.map((e) => `.${e}`),
);

/** The output format an extension ('.png' or 'png', any case) selects, if any. */
export function outputFormatForExtension(extension: string): OutputFormat | undefined {
  const ext = extension.replace(/^\./, '').toLowerCase();
  return OUTPUT_FORMATS.find((f) => OUTPUT_FORMAT_FACTS[f].extensions.includes(ext));
}

/**
 * Input formats decoding accepts, by sharp's format name, and the name reported for them (sharp reads
 * AVIF as 'heif').
 */
export const INPUT_FORMAT_NAMES: Readonly<Record<string, string>> = {
  jpeg: 'jpeg',
  png: 'png',
  webp: 'webp',
  heif: 'avif',
  tiff: 'tiff',
  gif: 'gif',
};
export const INPUT_FORMATS_TEXT = 'JPEG, PNG, WebP, AVIF, TIFF or GIF';

/** File extensions of the input formats, in the order a style is looked up. */
export const IMAGE_EXTENSIONS = ['jpg', 'jpeg', 'png', 'webp', 'avif', 'tif', 'tiff', 'gif'] as const;
