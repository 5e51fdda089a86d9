/** Powertools' settings for the pipeline's logs and metrics: the same for the function and the GPU jobs. */
import { POWERTOOLS_ENV } from '../../src/jobs/config.js';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../../src/product.js';

export const POWERTOOLS_ENVIRONMENT: Readonly<Record<string, string>> = {
  [POWERTOOLS_ENV.serviceName]: SERVICE_NAME,
  [POWERTOOLS_ENV.metricsNamespace]: METRICS_NAMESPACE,
  [POWERTOOLS_ENV.logLevel]: 'INFO',
};
