/**
 * Posting a frame to one connection through API Gateway's @connections management API.
 */
import type { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { GoneException, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';

export type SendOutcome = 'delivered' | 'gone';

export interface ConnectionSender {
  /** Resolves 'gone' when the connection no longer exists (410); rejects on other failures. */
  send(connectionId: string, data: string): Promise<SendOutcome>;
}

export class ApiGatewayConnectionSender implements ConnectionSender {
  constructor(private readonly client: ApiGatewayManagementApiClient) {}

  async send(connectionId: string, data: string): Promise<SendOutcome> {
    try {
      await this.client.send(
        new PostToConnectionCommand({ ConnectionId: connectionId, Data: Buffer.from(data) }),
      );
      return 'delivered';
    } catch (error) {
      if (error instanceof GoneException || httpStatus(error) === 410) return 'gone';
      throw error;
    }
  }
}

function httpStatus(error: unknown): number | undefined {
  const metadata = (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata;
  return metadata?.httpStatusCode;
}
