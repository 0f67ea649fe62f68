/**
 * The functions' metrics as CloudWatch embedded metric format lines on stdout, read back from what
 * the handlers print (real dynalite, a real @connections server). The shape is the one CloudWatch
 * Logs extracts metrics from ("Specification: Embedded metric format", Amazon CloudWatch User
 * Guide): `_aws.CloudWatchMetrics[].{Namespace, Dimensions, Metrics[].{Name, Unit}}` and each
 * metric's value as a top-level member.
 */
import {
  afterAll,
  afterEach,
  beforeAll,
  beforeEach,
  describe,
  expect,
  it,
  jest,
} from '@jest/globals';
import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { resetLazyValues } from '../../shared/runtime/lazy';
import { startHandlerEnv, type HandlerEnv } from '../support/handler-env';
import { lambdaContext, webSocketEvent } from '../support/lambda';
import { capturePrintedLines, isEmfLine } from '../support/printed-lines';

// Before the handlers (and so shared/metrics.ts) are first imported: tests/support/setup-env.ts
// turns metrics off for every other test file.
process.env.POWERTOOLS_METRICS_DISABLED = 'false';
process.env.POWERTOOLS_METRICS_NAMESPACE = 'telemetry-test';
process.env.STAGE = 'test';
process.env.TOKEN_SECRET = 'test-secret-of-enough-length-0123456789';
process.env.RATE_LIMIT_BURST = '2';
process.env.RATE_LIMIT_PER_SECOND = '1';

const { handler: connect } = await import('../../handlers/connect');
const { handler: forwardTelemetry } = await import('../../handlers/forwardTelemetry');
const { handler: authorize } = await import('../../handlers/authorize');
const { handler: unsubscribe } = await import('../../handlers/unsubscribe');

interface EmfLine {
  _aws: {
    Timestamp: number;
    CloudWatchMetrics: {
      Namespace: string;
      Dimensions: string[][];
      Metrics: { Name: string; Unit: string }[];
    }[];
  };
  [member: string]: unknown;
}

let env: HandlerEnv;
let printed: string[];
beforeAll(async () => {
  env = await startHandlerEnv();
});
afterAll(async () => {
  await env.stop();
  for (const name of ['STAGE', 'TOKEN_SECRET', 'RATE_LIMIT_BURST', 'RATE_LIMIT_PER_SECOND']) {
    delete process.env[name];
  }
  resetLazyValues();
});
beforeEach(() => {
  printed = capturePrintedLines(isEmfLine);
});
afterEach(() => {
  jest.restoreAllMocks();
  env.api.gone.clear();
  env.api.failing.clear();
});

/** Every EMF line printed since the test began, parsed. */
const emfLines = (): EmfLine[] =>
  printed.flatMap((chunk) => chunk.split('\n').filter(Boolean)).map((line) => JSON.parse(line));

/** The one EMF line printed, with its metric names and units checked against its values. */
function onlyLine(): EmfLine {
  const lines = emfLines();
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

const metricUnits = (line: EmfLine) =>
  Object.fromEntries(line._aws.CloudWatchMetrics[0]!.Metrics.map((m) => [m.Name, m.Unit]));

const ruleOutput = (deviceId: string) => ({
  payload: Buffer.from('{"temperature":21.5}').toString('base64'),
  topic: `devices/${deviceId}/telemetry`,
  deviceId,
  receivedAt: 1_767_225_600_000,
  messageId: `m-${deviceId}`,
});

describe('EMF lines the functions print', () => {
  it('forwardTelemetry: a reading forwarded, deliveries delivered and gone, fan-out duration, frames per viewer', async () => {
    await connect(webSocketEvent('viewer-a', '$connect'), lambdaContext());
    await connect(webSocketEvent('viewer-b', '$connect'), lambdaContext());
    env.api.gone.add('viewer-b');
    printed.length = 0;

    const report = await forwardTelemetry(ruleOutput('sensor-1'), lambdaContext());
    expect(report).toEqual({ delivered: 1, gone: 1, failed: 0 });

    const line = onlyLine();
    expect(line._aws.CloudWatchMetrics[0]).toMatchObject({
      Namespace: 'telemetry-test',
      Dimensions: [['service', 'stage']],
    });
    expect(line).toMatchObject({
      service: 'telemetry',
      stage: 'test',
      ReadingsForwarded: 1,
      DeliveriesDelivered: 1,
      DeliveriesGone: 1,
      DeliveriesFailed: 0,
      Viewers: 2,
      FramesPerViewer: 1,
    });
    expect(line.FanOutDuration).toEqual(expect.any(Number));
    expect(metricUnits(line)).toEqual({
      ReadingsForwarded: 'Count',
      DeliveriesDelivered: 'Count',
      DeliveriesGone: 'Count',
      DeliveriesFailed: 'Count',
      FanOutDuration: 'Milliseconds',
      Viewers: 'Count',
      FramesPerViewer: 'Count',
    });
  });

  it('forwardTelemetry: a failed delivery is counted and no reading is forwarded; the error still reaches Lambda', async () => {
    await connect(webSocketEvent('viewer-c', '$connect'), lambdaContext());
    // 403 is not transient: no retries, the delivery fails at once.
    env.api.failing.set('viewer-c', 403);
    printed.length = 0;

    await expect(forwardTelemetry(ruleOutput('sensor-2'), lambdaContext())).rejects.toThrow();

    const line = onlyLine();
    expect(line).toMatchObject({ DeliveriesFailed: 1 });
    expect(line).not.toHaveProperty('ReadingsForwarded');
  });

  it('authorize: a refused handshake counts one refusal', async () => {
    const refused = await authorize(
      {
        type: 'REQUEST',
        methodArn: 'arn:aws:execute-api:us-east-1:123456789012:api/test/$connect',
        queryStringParameters: { token: 'not-a-token' },
      } as unknown as APIGatewayRequestAuthorizerEvent,
      lambdaContext(),
    );
    expect(refused.policyDocument.Statement[0]).toMatchObject({ Effect: 'Deny' });
    expect(onlyLine()).toMatchObject({ AuthorizerRefusals: 1 });
  });

  it('a frame answered RATE_LIMITED counts one rate-limited frame (the answer is still the error frame)', async () => {
    await connect(webSocketEvent('busy', '$connect'), lambdaContext());
    const body = '{"action":"unsubscribe","topics":["x/y"]}';
    printed.length = 0;
    const answers = [];
    for (let i = 0; i < 3; i++) {
      const response = await unsubscribe(
        webSocketEvent('busy', 'unsubscribe', body),
        lambdaContext(),
      );
      answers.push(JSON.parse(response.body ?? '{}') as { type: string; code?: string });
    }
    expect(answers.map((answer) => answer.code ?? answer.type)).toEqual([
      'unsubscribed',
      'unsubscribed',
      'RATE_LIMITED',
    ]);
    // The two accepted frames recorded nothing, so they printed nothing.
    expect(onlyLine()).toMatchObject({ RateLimitedFrames: 1 });
  });
});
