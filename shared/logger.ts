import { Logger } from '@aws-lambda-powertools/logger';

/** The one logger: structured JSON with the Lambda context (POWERTOOLS_* env vars tune it). */
export const logger = new Logger({
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'telemetry',
});
