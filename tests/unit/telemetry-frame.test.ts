/**
 * The telemetry frame of one rule event and the depth scan that guards its payload
 * (shared/telemetry/frame.ts, payload.ts), on their own: the handler tests send the same events
 * through forwardTelemetry, and these pin what a mutation run showed them not to check cheaply
 * (brackets inside JSON strings, escaped quotes, the merge of an event of the earlier SQL).
 */
import { describe, expect, it } from '@jest/globals';
import { fitToMessageLimit, telemetryFrame } from '../../shared/telemetry/frame';
import { jsonDepth } from '../../shared/telemetry/payload';

describe('jsonDepth', () => {
  it.each([
    ['', 0],
    ['42', 0],
    ['{}', 1],
    ['[[]]', 2],
    ['[{"a":[1]}]', 3],
    // Closing brackets and braces end a level: siblings are not deeper.
    ['[][][]', 1],
    ['{}{}{}', 1],
    ['[[]][]', 2],
    ['[{}]{[]}', 2],
    // Brackets inside strings do not count, and a string ends at its closing quote.
    ['"{{{["', 0],
    ['["[[[["]', 1],
    ['["a",[["b"]]]', 3],
    // An escaped quote does not end the string.
    ['["\\"[[[["]', 1],
    ['["\\\\",[[1]]]', 3],
  ])('%s → %i', (text, depth) => {
    expect(jsonDepth(text)).toBe(depth);
  });
});

const base64 = (text: string) => Buffer.from(text).toString('base64');

describe('telemetryFrame', () => {
  it('classifies the base64 payload of the rule and names the frame by the message id', () => {
    expect(
      telemetryFrame(
        { deviceId: 'd1', receivedAt: 5, messageId: 'm-1', payload: base64('{"t":1}') },
        'fallback',
      ),
    ).toEqual({
      type: 'telemetry',
      id: 'm-1',
      topic: 'devices/d1/telemetry',
      deviceId: 'd1',
      receivedAt: 5,
      size: 7,
      kind: 'object',
      data: { t: 1 },
    });
  });

  it('without a payload: an empty one, the fallback id and the given topic', () => {
    expect(telemetryFrame({ deviceId: 'd1', receivedAt: 5, topic: 'x/y' }, 'fallback')).toEqual({
      type: 'telemetry',
      id: 'fallback',
      topic: 'x/y',
      deviceId: 'd1',
      receivedAt: 5,
      size: 0,
      data: {},
      kind: 'empty',
    });
  });

  it('a text payload', () => {
    expect(
      telemetryFrame({ deviceId: 'd1', receivedAt: 5, payload: base64('hi') }, 'f'),
    ).toMatchObject({ size: 2, data: {}, kind: 'text', text: 'hi' });
  });

  it.each([
    ['fields of the earlier SQL', { temperature: 21 }, { temperature: 21 }],
    ['a payload that is not a string', { payload: { a: 1 } }, { payload: { a: 1 } }],
    ['fields and a string payload', { x: 1, payload: 'abc' }, { x: 1, payload: 'abc' }],
  ])('an event of the earlier SQL (%s) arrives as its fields in data', (_name, extra, data) => {
    const frame = telemetryFrame({ deviceId: 'd1', receivedAt: 5, ...extra }, 'f');
    expect(frame).toEqual({
      type: 'telemetry',
      id: 'f',
      topic: 'devices/d1/telemetry',
      deviceId: 'd1',
      receivedAt: 5,
      size: Buffer.byteLength(JSON.stringify(data)),
      data,
      kind: 'object',
    });
  });
});

describe('fitToMessageLimit', () => {
  const frame = telemetryFrame({ deviceId: 'd1', receivedAt: 5, payload: base64('hello') }, 'f');
  const size = Buffer.byteLength(JSON.stringify(frame));

  it('keeps a frame of exactly the limit', () => {
    expect(fitToMessageLimit(frame, size)).toEqual({ frame });
  });

  it('replaces a frame one byte over by a tooLarge frame that says what it was', () => {
    expect(fitToMessageLimit(frame, size - 1)).toEqual({
      frame: {
        type: 'telemetry',
        id: 'f',
        topic: 'devices/d1/telemetry',
        deviceId: 'd1',
        receivedAt: 5,
        size: 5,
        data: {},
        kind: 'tooLarge',
        payloadKind: 'text',
        frameSize: size,
        limit: size - 1,
      },
      oversized: { frameSize: size, limit: size - 1 },
    });
  });

  it('a tooLarge frame fitted again keeps the payload kind it stood for', () => {
    const { frame: tooLarge } = fitToMessageLimit(frame, 10);
    expect(fitToMessageLimit(tooLarge, 10).frame).toMatchObject({
      kind: 'tooLarge',
      payloadKind: 'text',
    });
  });
});
