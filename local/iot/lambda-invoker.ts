/**
 * Invokes a function through serverless-offline's Lambda API (the same endpoint the AWS SDK's
 * Lambda client talks to), as the topic rule's Lambda action invokes it in AWS.
 */
export type InvokeOutcome = { ok: true; result: unknown } | { ok: false; error: string };

export interface LambdaInvoker {
  invoke(functionName: string, payload: unknown): Promise<InvokeOutcome>;
}

export class OfflineLambdaInvoker implements LambdaInvoker {
  constructor(private readonly endpoint: string) {}

  async invoke(functionName: string, payload: unknown): Promise<InvokeOutcome> {
    const url = `${this.endpoint}/2015-03-31/functions/${encodeURIComponent(functionName)}/invocations`;
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-amz-invocation-type': 'RequestResponse' },
        body: JSON.stringify(payload),
      });
    } catch (error) {
      return { ok: false, error: `Lambda endpoint unreachable: ${(error as Error).message}` };
    }
    const text = await response.text();
    const functionError = response.headers.get('x-amz-function-error');
    if (!response.ok || functionError) {
      return {
        ok: false,
        error: `${functionError ?? `HTTP ${response.status}`}: ${text.slice(0, 500)}`,
      };
    }
    return { ok: true, result: text ? JSON.parse(text) : null };
  }
}
