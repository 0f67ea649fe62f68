/**
 * `${iotEndpoint:iot:Data-ATS}` in serverless.yml: the account's own IoT endpoint, looked up at
 * package/deploy time with DescribeEndpoint. AWS recommends the account-specific ATS endpoint
 * (AWS IoT Core Developer Guide, "Connecting devices to AWS IoT": `iot:Data-ATS`) over the
 * region-wide `data-ats.iot.<region>.amazonaws.com`, which the functions use when the value is
 * empty. Packaging must work with no AWS account at all (CI, a laptop): then the value is empty
 * and a notice says so.
 */
import { DescribeEndpointCommand, IoTClient, type IoTClientConfig } from '@aws-sdk/client-iot';

/** The endpoint types DescribeEndpoint knows (IoT API Reference, DescribeEndpoint). */
export const IOT_ENDPOINT_TYPES = [
  'iot:Data-ATS',
  'iot:Data',
  'iot:CredentialProvider',
  'iot:Jobs',
] as const;
export type IotEndpointType = (typeof IOT_ENDPOINT_TYPES)[number];

export interface EndpointLookupLog {
  notice(message: string): void;
  warning(message: string): void;
}

export interface EndpointLookup {
  /** The framework's client configuration: region, credentials provider, proxy, retries. */
  clientConfig: IoTClientConfig & { region: string };
  log: EndpointLookupLog;
  /** Give up on a DescribeEndpoint that has not answered by then (no network). */
  timeoutMs?: number;
}

export class EndpointTypeError extends Error {
  override readonly name = 'EndpointTypeError';
}

export function parseEndpointType(address: string | undefined): IotEndpointType {
  if ((IOT_ENDPOINT_TYPES as readonly string[]).includes(address ?? '')) {
    return address as IotEndpointType;
  }
  throw new EndpointTypeError(
    `\${iotEndpoint:${address ?? ''}}: the address must be one of ${IOT_ENDPOINT_TYPES.join(', ')}`,
  );
}

/**
 * The endpoint's host name, or '' (the region's endpoint) when there are no credentials or the
 * lookup fails; never throws for those, so `sls package` keeps working without an account.
 */
export async function lookUpIotEndpoint(
  endpointType: IotEndpointType,
  { clientConfig, log, timeoutMs = 10_000 }: EndpointLookup,
): Promise<string> {
  const fallback = `functions use the region's endpoint (${regionEndpoint(endpointType, clientConfig.region)})`;
  const credentialsError = await missingCredentials(clientConfig.credentials);
  if (credentialsError) {
    log.notice(
      `IoT endpoint ${endpointType} not looked up (${credentialsError}): ${fallback}. ` +
        'Package or deploy with AWS credentials, or set IOT_DATA_ENDPOINT.',
    );
    return '';
  }
  const client = new IoTClient(clientConfig);
  try {
    const { endpointAddress } = await withTimeout(timeoutMs, (abortSignal) =>
      client.send(new DescribeEndpointCommand({ endpointType }), { abortSignal }),
    );
    if (!endpointAddress) throw new Error('DescribeEndpoint returned no endpointAddress');
    return endpointAddress;
  } catch (error) {
    log.warning(
      `DescribeEndpoint ${endpointType} in ${clientConfig.region} failed (${describe(error)}): ` +
        `${fallback}. Set IOT_DATA_ENDPOINT to choose one.`,
    );
    return '';
  } finally {
    client.destroy();
  }
}

/** With no network the SDK can wait minutes on retries; a build should not. */
async function withTimeout<T>(
  timeoutMs: number,
  call: (abortSignal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = Object.assign(new Error(`no answer in ${timeoutMs} ms`), {
        name: 'TimeoutError',
      });
      controller.abort(error);
      reject(error);
    }, timeoutMs);
  });
  try {
    return await Promise.race([call(controller.signal), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

async function missingCredentials(
  credentials: IoTClientConfig['credentials'],
): Promise<string | undefined> {
  if (!credentials) return 'no AWS credentials configured';
  try {
    const identity = typeof credentials === 'function' ? await credentials() : credentials;
    return identity.accessKeyId ? undefined : 'no AWS access key id';
  } catch (error) {
    // The framework's message goes on with a link to its docs: the first sentence says it.
    return (error instanceof Error ? error.message : String(error)).split(/\.\s/)[0];
  }
}

function regionEndpoint(endpointType: IotEndpointType, region: string): string {
  return endpointType === 'iot:Data-ATS' ? `data-ats.iot.${region}.amazonaws.com` : 'default';
}

function describe(error: unknown): string {
  if (error instanceof Error)
    return error.name === 'Error' ? error.message : `${error.name}: ${error.message}`;
  return String(error);
}
