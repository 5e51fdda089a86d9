/**
 * The CDK constructs (`import { StyleTransferPipeline } from 'serverless-style-transfer/cdk'`): the whole
 * pipeline as one construct for any app, the stack `cdk deploy` makes of it, the constructs it is made of,
 * and the settings the stack reads. Runtime code never imports this, so only
 * a CDK app loads aws-cdk-lib (a peer dependency of this subpath).
 */
export { DEFAULT_CONFIG, type NstConfig, parseConfig, readConfig } from './config.js';
export { BatchGpu, type BatchGpuProps } from './constructs/batch-gpu.js';
export { type LayerDirs, PipelineLayers, type PipelineLayersProps } from './constructs/layers.js';
export {
  Alarms,
  type AlarmsProps,
  NotificationTopic,
  type NotificationTopicProps,
} from './constructs/operations.js';
export { acknowledgeWildcard } from './constructs/policies.js';
export { pipelineLifecycleRules, Storage, type StorageProps } from './constructs/storage.js';
export {
  type GpuSettings,
  StyleTransferPipeline,
  type StyleTransferPipelineProps,
} from './constructs/style-transfer-pipeline.js';
export {
  type BatchTarget,
  StylizeFunction,
  type StylizeFunctionProps,
} from './constructs/stylize-function.js';
export { SweepSchedule, type SweepScheduleProps } from './constructs/sweeper.js';
export { buildLayers } from './layer-cache.js';
export { NstStack, type NstStackProps } from './stack.js';
