/**
 * The IoT data-plane API for the Lambdas (`@aws-sdk/client-iot-data-plane` PublishCommand):
 * `POST /topics/{topic}?qos=1`. As in AWS, every request must carry a valid SigV4 signature
 * (service `iotdata`), here made with the credentials the offline cloud gives its Lambdas:
 * anything else on the machine that is not signed with them gets 403 ForbiddenException and
 * publishes nothing. It listens on loopback only.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { sigV4RequestOf, verifySigV4, type SigV4Credentials } from '../../aws/sigv4';
import { OFFLINE_CREDENTIALS, OFFLINE_REGION } from '../../offline-credentials';
import { close, listen } from '../broker/mqtt-endpoint';
import {
  PublishRequestError,
  readPublishBody,
  readPublishRequest,
  type PublishRequest,
} from './publish-request';

/** The signing name of the IoT data plane (the `iotdata` in its credential scope). */
export const DATA_PLANE_SIGNING_SERVICE = 'iotdata';

export interface DataPlaneOptions {
  host: string;
  port: number;
  publish(request: PublishRequest): Promise<void>;
  /** Whose signatures are accepted; the offline Lambdas' credentials unless given. */
  credentials?: SigV4Credentials;
  /** The region in the credential scope; the offline Lambdas' region unless given. */
  region?: string;
}

export interface DataPlaneEndpoint {
  port: number;
  stop(): Promise<void>;
}

/** A request AWS would refuse before reading it: a bad or missing signature. */
class ForbiddenRequestError extends Error {}

export async function startDataPlaneEndpoint(
  options: DataPlaneOptions,
): Promise<DataPlaneEndpoint> {
  const credentials = options.credentials ?? OFFLINE_CREDENTIALS;
  const region = options.region ?? OFFLINE_REGION;

  const server = http.createServer(async (request, response) => {
    try {
      // The signature covers the body's hash: the body is read (within IoT's limit) first.
      const body = await readPublishBody(request);
      const verdict = await verifySigV4(sigV4RequestOf(request, body), credentials, {
        service: DATA_PLANE_SIGNING_SERVICE,
        region,
      });
      if (!verdict.ok) throw new ForbiddenRequestError(verdict.reason);
      await options.publish(await readPublishRequest(request, body));
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    } catch (error) {
      answerError(response, error);
    }
  });
  const port = await listen(server, options.host, options.port);
  return {
    port,
    stop: async () => {
      server.closeAllConnections();
      await close(server);
    },
  };
}

/**
 * The data plane's error shape: the status, `x-amzn-ErrorType` and `{"message", "traceId"}`.
 * A bad signature is 403 ForbiddenException, as the IoT data endpoint answers it ("The request
 * signature we calculated does not match the signature you provided…").
 */
function answerError(response: http.ServerResponse, error: unknown): void {
  const status =
    error instanceof ForbiddenRequestError
      ? 403
      : error instanceof PublishRequestError
        ? error.status
        : 500;
  const type =
    status === 403
      ? 'ForbiddenException'
      : status === 413
        ? 'RequestEntityTooLargeException'
        : status >= 500
          ? 'InternalFailureException'
          : 'InvalidRequestException';
  const body = JSON.stringify({ message: (error as Error).message, traceId: randomUUID() });
  response.writeHead(status, {
    'content-type': 'application/json',
    'x-amzn-errortype': type,
    'content-length': Buffer.byteLength(body),
    // A request whose body was not read to the end cannot keep its connection.
    ...(status === 413 ? { connection: 'close' } : {}),
  });
  response.end(body);
}
