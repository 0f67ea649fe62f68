/**
 * A device on HTTPS: each reading is a POST to /topics/devices/{id}/telemetry?qos=1 with the
 * device certificate, over a keep-alive connection. Network errors, 5xx and 429 are retried with
 * exponential backoff and jitter; a reading fails once its attempts are used up, or at once when
 * the endpoint refuses it (403: the certificate is not accepted; other 4xx: the request is bad).
 */
import https from 'node:https';
import type { Reading } from '../telemetry/reading';
import { telemetryTopic } from '../../shared/topics';
import { backoffDelay, cancellableSleep, HTTPS_RETRY } from './backoff';
import { InFlight, type SimulatedDevice } from './device';
import type { DeviceIdentity } from './identity';
import type { FleetStats, Reporter } from './stats';
import { describeTransportError } from './transport-errors';

const REQUEST_TIMEOUT_MS = 10_000;

type Attempt = { ok: true } | { ok: false; retry: boolean; problem: string };

export class HttpsDevice implements SimulatedDevice {
  readonly protocol = 'https' as const;
  readonly deviceId: string;
  private readonly url: URL;
  private readonly agent: https.Agent;
  private readonly inFlight: InFlight;
  private readonly sleeps = new Set<{ cancel(): void }>();
  private closing = false;
  /** The problem last reported, so that a burst of failures is reported once. */
  private problem: string | undefined;

  constructor(
    identity: DeviceIdentity,
    private readonly stats: FleetStats,
    private readonly reporter: Reporter,
  ) {
    this.deviceId = identity.thingName;
    this.url = new URL(
      `https://${identity.host}:${identity.httpsPort}/topics/${telemetryTopic(identity.thingName)}?qos=1`,
    );
    this.agent = new https.Agent({
      keepAlive: true,
      maxSockets: 4,
      ca: identity.ca,
      cert: identity.cert,
      key: identity.key,
    });
    this.inFlight = new InFlight((ok) =>
      ok ? stats.readings.https.acked++ : stats.readings.https.failed++,
    );
  }

  send(reading: Reading): void {
    this.stats.readings.https.sent++;
    const settle = this.inFlight.track();
    void this.deliver(JSON.stringify(reading)).then(settle);
  }

  idle(): Promise<void> {
    return this.inFlight.idle();
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const sleep of this.sleeps) sleep.cancel();
    this.inFlight.abandon();
    this.agent.destroy();
  }

  private async deliver(body: string): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      const outcome = await this.post(body);
      if (outcome.ok) {
        if (this.problem !== undefined && !this.closing) this.report('delivering again');
        this.problem = undefined;
        return true;
      }
      if (this.closing) return false;
      const lastAttempt = !outcome.retry || attempt + 1 >= HTTPS_RETRY.attempts;
      if (outcome.problem !== this.problem) {
        this.problem = outcome.problem;
        this.report(
          `POST ${this.url.href} failed: ${outcome.problem}` +
            (outcome.retry ? '; retrying with backoff' : ''),
        );
      }
      if (lastAttempt) return false;
      const sleep = cancellableSleep(backoffDelay(attempt, HTTPS_RETRY));
      this.sleeps.add(sleep);
      const slept = await sleep.done;
      this.sleeps.delete(sleep);
      if (!slept) return false;
    }
  }

  private post(body: string): Promise<Attempt> {
    return new Promise((resolve) => {
      const request = https.request(
        this.url,
        {
          method: 'POST',
          agent: this.agent,
          timeout: REQUEST_TIMEOUT_MS,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (text = (text + chunk).slice(0, 500)));
          response.on('error', (error) =>
            resolve({ ok: false, retry: true, problem: describeTransportError(error) }),
          );
          response.on('end', () => {
            const status = response.statusCode ?? 0;
            if (status === 200) return resolve({ ok: true });
            const reason = response.statusMessage ?? '';
            const answer = `${status} ${reason}${detailOf(text, reason)}`;
            resolve({
              ok: false,
              retry: status >= 500 || status === 429,
              problem:
                status === 403
                  ? `the endpoint refused the device certificate (${answer})`
                  : `the endpoint answered ${answer}`,
            });
          });
        },
      );
      request.on('timeout', () =>
        request.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS / 1000} s`)),
      );
      request.on('error', (error) =>
        resolve({ ok: false, retry: true, problem: describeTransportError(error) }),
      );
      request.end(body);
    });
  }

  private report(line: string): void {
    this.reporter.log(`${this.deviceId} (https): ${line}`);
  }
}

/** The message of an error body (`{"message": …}` as IoT Core answers), without request ids. */
function detailOf(body: string, reason: string): string {
  let message: unknown = body.trim();
  try {
    message = (JSON.parse(body) as { message?: unknown }).message ?? message;
  } catch {
    // not JSON: the text as it is
  }
  return typeof message === 'string' && message !== '' && message !== reason ? `: ${message}` : '';
}
