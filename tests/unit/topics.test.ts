import { describe, expect, it } from '@jest/globals';
import { topicFilterProblem, topicMatches, topicNameProblem } from '../../shared/topics';

describe('topicMatches', () => {
  it.each([
    ['devices/+/telemetry', 'devices/sensor-1/telemetry', true],
    ['devices/+/telemetry', 'devices/sensor-1/commands', false],
    ['devices/sensor-7/#', 'devices/sensor-7/telemetry', true],
    ['devices/sensor-7/#', 'devices/sensor-7', true],
    ['devices/sensor-7/#', 'devices/sensor-70/telemetry', false],
    ['#', 'devices/a/telemetry', true],
    ['#', '$aws/things/x', false],
    ['+/a', '$sys/a', false],
    ['devices/+', 'devices/a/b', false],
    ['devices/a/telemetry', 'devices/a/telemetry', true],
    ['devices/a/telemetry', 'devices/a/telemetry/x', false],
  ])('%s vs %s → %s', (filter, topic, expected) => {
    expect(topicMatches(filter, topic)).toBe(expected);
  });
});

describe('topic validation', () => {
  it('accepts valid filters and names', () => {
    expect(topicFilterProblem('devices/+/telemetry')).toBeUndefined();
    expect(topicFilterProblem('#')).toBeUndefined();
    expect(topicNameProblem('devices/a/telemetry')).toBeUndefined();
  });

  it.each([
    ['', 'empty'],
    ['a/#/b', '"#" must be a whole level and the last one'],
    ['a/b#', '"#" must be a whole level'],
    ['a/b+/c', '"+" must be a whole level'],
    ['a/b/c/d/e/f/g/h/i', '8 slashes'],
    ['x'.repeat(257), '257 bytes'],
  ])('rejects the filter %j (%s)', (filter, reason) => {
    expect(topicFilterProblem(filter)).toContain(reason);
  });

  it('rejects wildcards in topic names', () => {
    expect(topicNameProblem('devices/+/telemetry')).toMatch(/wildcards/);
  });
});
