/** Builders for the events and context AWS hands to the handlers. */
import type { APIGatewayProxyWebsocketEventV2, Context } from 'aws-lambda';
import { randomUUID } from 'node:crypto';

export function lambdaContext(functionName = 'test'): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '256',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'test',
    getRemainingTimeInMillis: () => 10_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

export function webSocketEvent(
  connectionId: string,
  routeKey: string,
  body?: string,
): APIGatewayProxyWebsocketEventV2 {
  return {
    requestContext: {
      connectionId,
      routeKey,
      eventType:
        routeKey === '$connect' ? 'CONNECT' : routeKey === '$disconnect' ? 'DISCONNECT' : 'MESSAGE',
      messageId: randomUUID(),
      extendedRequestId: randomUUID(),
      requestTime: new Date().toISOString(),
      messageDirection: 'IN',
      stage: 'test',
      connectedAt: Date.now(),
      requestTimeEpoch: Date.now(),
      requestId: randomUUID(),
      domainName: 'localhost',
      apiId: 'test',
    },
    body,
    isBase64Encoded: false,
  } as APIGatewayProxyWebsocketEventV2;
}
