/**
 * The IoT data-plane API for the Lambdas (`@aws-sdk/client-iot-data-plane` PublishCommand):
 * `POST /topics/{topic}?qos=1`. In AWS it is signed with SigV4 and authorised by IAM; offline it
 * listens on loopback only and accepts the Lambdas' dummy credentials.
 */
import http from 'node:http';
import { close, listen } from '../broker/mqtt-endpoint';
import { PublishRequestError, readPublishRequest, type PublishRequest } from './publish-request';

export interface DataPlaneOptions {
  host: string;
  port: number;
  publish(request: PublishRequest): Promise<void>;
}

export interface DataPlaneEndpoint {
  port: number;
  stop(): Promise<void>;
}

export async function startDataPlaneEndpoint(
  options: DataPlaneOptions,
): Promise<DataPlaneEndpoint> {
  const server = http.createServer(async (request, response) => {
    try {
      await options.publish(await readPublishRequest(request));
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    } catch (error) {
      const status = error instanceof PublishRequestError ? error.status : 500;
      const type =
        status === 413
          ? 'RequestEntityTooLargeException'
          : status >= 500
            ? 'InternalFailureException'
            : 'InvalidRequestException';
      response
        .writeHead(status, { 'content-type': 'application/json', 'x-amzn-errortype': type })
        .end(JSON.stringify({ message: (error as Error).message }));
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
