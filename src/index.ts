/**
 * The library (`import { stylizeImage } from 'serverless-style-transfer'`): image bytes or paths in, an
 * encoded stylised image out, with the options schema every entry point validates by. The pipeline's
 * handler is `serverless-style-transfer/handler`; the CDK constructs are `serverless-style-transfer/cdk`.
 * Pipelines that listen to jobs get the notification's type and schema and the events' names here.
 */

export {
  DEFAULT_STYLIZE_OPTIONS,
  MAX_SIZE,
  type StylizeOptions,
  stylizeOptionsSchema,
} from './engine/options.js';
export type { Progress, StylizeContext, StylizeResult } from './engine/stylize.js';
export type { VggWeights } from './engine/types.js';
export { ERROR_KINDS, ERROR_POLICY, type ErrorCode, type ErrorKind, isNstError, NstError } from './errors.js';
export { OUTPUT_FORMATS, type OutputFormat } from './image/formats.js';
// What the pipeline tells subscribers: the document (SNS message, event detail) and the events' names.
export {
  type DeliveredJobEvent,
  JOB_EVENT_DETAIL_TYPES,
  type JobEventDetailType,
} from './jobs/notify/job-events.js';
export { type JobNotification, jobNotificationSchema } from './jobs/notify/job-notification.js';
export { EVENT_SOURCE } from './product.js';
export {
  type DecodedInputs,
  decodeInputs,
  type ImageInputs,
  type ImageSource,
  type OutputSettings,
  type StylizedImage,
  stylizeDecodedImage,
  stylizeImage,
} from './stylize-image.js';
export { resolveWeightsDir, WEIGHTS_DIR_ENV } from './weights/lookup.js';
export { loadWeights } from './weights/store.js';
