/**
 * The stage's delivery parameters (serverless.yml `params`: deliveryMode, deliveryBatchSize,
 * deliveryBatchWindowSeconds), checked before anything is built. A mode other than the two that
 * exist would otherwise surface as a missing resources/delivery-<mode>.yml, and a batch AWS
 * refuses only when CloudFormation creates the event source mapping, half-way through a deploy.
 */

export const DELIVERY_MODES = ['direct', 'batched'] as const;
export type DeliveryMode = (typeof DELIVERY_MODES)[number];

/** What `${delivery:<key>}` resolves to (serverless.yml custom.delivery). */
export interface DeliverySettings {
  mode: DeliveryMode;
  batchSize: number;
  maximumBatchingWindow: number;
}

/**
 * Lambda API Reference, CreateEventSourceMapping: BatchSize 1-10 000 for an SQS queue,
 * MaximumBatchingWindowInSeconds 0-300, and a BatchSize over 10 needs a window of at least 1 s.
 */
const SQS_BATCH_SIZE = { min: 1, max: 10_000 };
const BATCHING_WINDOW_SECONDS = { min: 0, max: 300 };
const LARGEST_BATCH_WITHOUT_WINDOW = 10;
const DOC = 'Lambda API Reference, CreateEventSourceMapping';

export class DeliverySettingsError extends Error {
  override name = 'DeliverySettingsError';
}

/** The stage parameters as the framework resolved them (numbers, or strings from `--param`). */
export interface DeliveryParameters {
  deliveryMode: unknown;
  deliveryBatchSize: unknown;
  deliveryBatchWindowSeconds: unknown;
}

export function parseDeliverySettings(parameters: DeliveryParameters): DeliverySettings {
  const mode = parameters.deliveryMode;
  if (!DELIVERY_MODES.includes(mode as DeliveryMode)) {
    throw new DeliverySettingsError(
      `Stage parameter deliveryMode is ${JSON.stringify(mode)}; it must be one of ${DELIVERY_MODES.join(', ')} (serverless.yml params, or --param="deliveryMode=batched")`,
    );
  }
  const batchSize = integerParameter(
    'deliveryBatchSize',
    parameters.deliveryBatchSize,
    SQS_BATCH_SIZE,
  );
  const maximumBatchingWindow = integerParameter(
    'deliveryBatchWindowSeconds',
    parameters.deliveryBatchWindowSeconds,
    BATCHING_WINDOW_SECONDS,
  );
  if (batchSize > LARGEST_BATCH_WITHOUT_WINDOW && maximumBatchingWindow < 1) {
    throw new DeliverySettingsError(
      `Stage parameter deliveryBatchSize is ${batchSize}: over ${LARGEST_BATCH_WITHOUT_WINDOW}, AWS needs deliveryBatchWindowSeconds of at least 1 (${DOC})`,
    );
  }
  return { mode: mode as DeliveryMode, batchSize, maximumBatchingWindow };
}

function integerParameter(
  name: string,
  value: unknown,
  range: { min: number; max: number },
): number {
  const number =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^\d+$/.test(value)
        ? Number(value)
        : NaN;
  if (!Number.isInteger(number) || number < range.min || number > range.max) {
    throw new DeliverySettingsError(
      `Stage parameter ${name} is ${JSON.stringify(value)}; it must be a whole number from ${range.min} to ${range.max} (${DOC})`,
    );
  }
  return number;
}

/** `${delivery:mode}`, `${delivery:batchSize}` or `${delivery:maximumBatchingWindow}`. */
export async function resolveDelivery(
  address: string | undefined,
  resolveVariable: (variable: string) => Promise<unknown>,
): Promise<string | number> {
  const settings = parseDeliverySettings({
    deliveryMode: await resolveVariable('param:deliveryMode'),
    deliveryBatchSize: await resolveVariable('param:deliveryBatchSize'),
    deliveryBatchWindowSeconds: await resolveVariable('param:deliveryBatchWindowSeconds'),
  });
  if (address === undefined || !Object.hasOwn(settings, address)) {
    throw new DeliverySettingsError(
      `\${delivery:${address ?? ''}} names no delivery setting; one of ${Object.keys(settings).join(', ')}`,
    );
  }
  return settings[address as keyof DeliverySettings];
}
