/** Builders for the events and context AWS hands to the handlers. */
import type { APIGatewayProxyWebsocketEventV2, Context } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { principalToContext, type Principal } from '../../shared/auth/tokens';

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

/** A principal allowed everything, as a token with the commands claim and no topic limit. */
export const FULL_ACCESS: Principal = { subject: 'test', topics: null, commands: true };

export function webSocketEvent(
  connectionId: string,
  routeKey: string,
  body?: string,
  principal: Principal | undefined = FULL_ACCESS,
): APIGatewayProxyWebsocketEventV2 {
  const authorizer = principal && {
    principalId: principal.subject,
    ...principalToContext(principal),
  };
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
      ...(authorizer ? { authorizer } : {}),
    },
    body,
    isBase64Encoded: false,
  } as APIGatewayProxyWebsocketEventV2;
}
