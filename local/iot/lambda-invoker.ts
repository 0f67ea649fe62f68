/**
 * Invokes a function through serverless-offline's Lambda API (the same endpoint the AWS SDK's
 * Lambda client talks to), as the topic rule's Lambda action invokes it in AWS.
 */
export type InvokeOutcome = { ok: true; result: unknown } | { ok: false; error: string };

export interface InvokeOptions {
  /** Aborts the invocation (the offline cloud is stopping); the outcome is then a failure. */
  signal?: AbortSignal;
}

export interface LambdaInvoker {
  invoke(functionName: string, payload: unknown, options?: InvokeOptions): Promise<InvokeOutcome>;
}

export class OfflineLambdaInvoker implements LambdaInvoker {
  constructor(private readonly endpoint: string) {}

  async invoke(
    functionName: string,
    payload: unknown,
    options: InvokeOptions = {},
  ): Promise<InvokeOutcome> {
    const url = `${this.endpoint}/2015-03-31/functions/${encodeURIComponent(functionName)}/invocations`;
    let body: string;
    try {
      body = JSON.stringify(payload);
    } catch (error) {
      // A payload too deep to serialize can never be invoked: fail, so it is dead-lettered.
      return { ok: false, error: `payload cannot be serialized: ${(error as Error).message}` };
    }
    let response: Response;
    let text: string;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-amz-invocation-type': 'RequestResponse' },
        body,
        signal: options.signal,
      });
      text = await response.text();
    } catch (error) {
      if (options.signal?.aborted) return { ok: false, error: 'invocation aborted' };
      return { ok: false, error: `Lambda endpoint unreachable: ${(error as Error).message}` };
    }
    const functionError = response.headers.get('x-amz-function-error');
    if (!response.ok || functionError) {
      return {
        ok: false,
        error: `${functionError ?? `HTTP ${response.status}`}: ${text.slice(0, 500)}`,
      };
    }
    try {
      return { ok: true, result: text ? JSON.parse(text) : null };
    } catch {
      // The function ran; only its answer is not JSON. The action succeeded.
      return { ok: true, result: text };
    }
  }
}
