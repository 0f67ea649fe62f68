/**
 * The `${iotEndpoint:iot:Data-ATS}` variable source (plugins/iot-endpoint.ts): the exact
 * DescribeEndpoint call AWS documents (IoT API Reference, DescribeEndpoint: endpointType
 * `iot:Data-ATS` for the account's ATS data endpoint), and the fall-backs that keep
 * `sls package` working without an account.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import {
  DescribeEndpointCommand,
  InvalidRequestException,
  IoTClient,
  UnauthorizedException,
} from '@aws-sdk/client-iot';
import { mockClient } from 'aws-sdk-client-mock';
import {
  EndpointTypeError,
  lookUpIotEndpoint,
  parseEndpointType,
} from '../../plugins/iot-endpoint';

const iotMock = mockClient(IoTClient);
const ENDPOINT = 'abc123example-ats.iot.eu-west-1.amazonaws.com';
const credentials = async () => ({ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' });

function recordingLog() {
  const lines = { notice: [] as string[], warning: [] as string[] };
  return {
    lines,
    log: {
      notice: (message: string) => lines.notice.push(message),
      warning: (message: string) => lines.warning.push(message),
    },
  };
}

afterEach(() => {
  iotMock.reset();
});

describe('lookUpIotEndpoint', () => {
  it("asks DescribeEndpoint for iot:Data-ATS and returns the account's endpoint", async () => {
    iotMock.on(DescribeEndpointCommand).resolves({ endpointAddress: ENDPOINT });
    const { lines, log } = recordingLog();
    const endpoint = await lookUpIotEndpoint('iot:Data-ATS', {
      clientConfig: { region: 'eu-west-1', credentials },
      log,
    });
    expect(endpoint).toBe(ENDPOINT);
    const calls = iotMock.commandCalls(DescribeEndpointCommand);
    expect(calls.map((call) => call.args[0].input)).toEqual([{ endpointType: 'iot:Data-ATS' }]);
    expect(await iotMock.call(0).thisValue.config.region()).toBe('eu-west-1');
    expect(lines).toEqual({ notice: [], warning: [] });
  });

  it('without credentials: no call, an empty endpoint and a notice that says so', async () => {
    const { lines, log } = recordingLog();
    const endpoint = await lookUpIotEndpoint('iot:Data-ATS', {
      clientConfig: {
        region: 'eu-west-1',
        credentials: async () => {
          throw new Error('AWS provider credentials not found. Learn how to set them up.');
        },
      },
      log,
    });
    expect(endpoint).toBe('');
    expect(iotMock.calls()).toHaveLength(0);
    expect(lines.notice).toEqual([
      "IoT endpoint iot:Data-ATS not looked up (AWS provider credentials not found): functions use the region's endpoint (data-ats.iot.eu-west-1.amazonaws.com). Package or deploy with AWS credentials, or set IOT_DATA_ENDPOINT.",
    ]);
  });

  it('when DescribeEndpoint is refused: an empty endpoint and a warning naming the error', async () => {
    iotMock
      .on(DescribeEndpointCommand)
      .rejects(new UnauthorizedException({ message: 'not authorized', $metadata: {} }));
    const { lines, log } = recordingLog();
    const endpoint = await lookUpIotEndpoint('iot:Data-ATS', {
      clientConfig: { region: 'eu-west-1', credentials },
      log,
    });
    expect(endpoint).toBe('');
    expect(lines.warning).toHaveLength(1);
    expect(lines.warning[0]).toContain(
      'DescribeEndpoint iot:Data-ATS in eu-west-1 failed (UnauthorizedException: not authorized)',
    );
  });

  it('an answer without an address is a failure, not an endpoint', async () => {
    iotMock.on(DescribeEndpointCommand).resolves({});
    const { lines, log } = recordingLog();
    const endpoint = await lookUpIotEndpoint('iot:Data-ATS', {
      clientConfig: { region: 'eu-west-1', credentials },
      log,
    });
    expect(endpoint).toBe('');
    expect(lines.warning[0]).toContain('DescribeEndpoint returned no endpointAddress');
  });

  it('a lookup that does not answer in time falls back instead of hanging the build', async () => {
    iotMock.on(DescribeEndpointCommand).callsFake(
      // Never settles: only the abort signal can end the call.
      () => new Promise(() => undefined),
    );
    const { lines, log } = recordingLog();
    const endpoint = await lookUpIotEndpoint('iot:Data-ATS', {
      clientConfig: { region: 'eu-west-1', credentials },
      log,
      timeoutMs: 50,
    });
    expect(endpoint).toBe('');
    expect(lines.warning[0]).toContain(
      'DescribeEndpoint iot:Data-ATS in eu-west-1 failed (TimeoutError: no answer in 50 ms)',
    );
  });

  it('passes other endpoint types through unchanged', async () => {
    iotMock
      .on(DescribeEndpointCommand)
      .rejects(new InvalidRequestException({ message: 'unexpected', $metadata: {} }))
      .on(DescribeEndpointCommand, { endpointType: 'iot:CredentialProvider' })
      .resolves({ endpointAddress: 'c1.credentials.iot.eu-west-1.amazonaws.com' });
    const { log } = recordingLog();
    await expect(
      lookUpIotEndpoint('iot:CredentialProvider', {
        clientConfig: { region: 'eu-west-1', credentials },
        log,
      }),
    ).resolves.toBe('c1.credentials.iot.eu-west-1.amazonaws.com');
  });
});

describe('parseEndpointType', () => {
  it('accepts the types DescribeEndpoint knows and refuses the rest by name', () => {
    expect(parseEndpointType('iot:Data-ATS')).toBe('iot:Data-ATS');
    expect(() => parseEndpointType('iot:data-ats')).toThrow(EndpointTypeError);
    expect(() => parseEndpointType(undefined)).toThrow(
      '${iotEndpoint:}: the address must be one of iot:Data-ATS, iot:Data, iot:CredentialProvider, iot:Jobs',
    );
  });
});
