/** What the lifecycle reports per finished job, and its Powertools (EMF) implementation used by the Lambda. */
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { ErrorCode } from '../../errors.js';

export interface JobMetrics {
  succeeded(run: { seconds: number; iterations: number }): void;
  failed(code: ErrorCode): void;
}

/** EMF metrics: job duration, iterations per second, successes and failures (by error code in metadata). */
export function powertoolsMetrics(metrics: Metrics): JobMetrics {
  return {
    succeeded({ seconds, iterations }) {
      metrics.addMetric('JobSucceeded', MetricUnit.Count, 1);
      metrics.addMetric('JobDuration', MetricUnit.Seconds, seconds);
      if (seconds > 0)
        metrics.addMetric('IterationsPerSecond', MetricUnit.CountPerSecond, iterations / seconds);
    },
    failed(code) {
      metrics.addMetric('JobFailed', MetricUnit.Count, 1);
      metrics.addMetadata('errorCode', code);
    },
  };
}
