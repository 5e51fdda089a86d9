/** The product's names, as logs, metrics, graphs and the command line spell them. */

/** Powertools' service name (logs and metrics) and the producer of the ONNX graph. */
export const SERVICE_NAME = 'serverless-style-transfer';

/** The CloudWatch namespace of the pipeline's metrics. */
export const METRICS_NAMESPACE = 'ServerlessStyleTransfer';

/** The command line tool. */
export const CLI_NAME = 'nst';

/**
 * The source of the pipeline's EventBridge events (src/jobs/notify/job-events.ts): users' rules match on
 * it, so it is a contract of its own and does not follow SERVICE_NAME.
 */
export const EVENT_SOURCE = 'serverless-style-transfer';
