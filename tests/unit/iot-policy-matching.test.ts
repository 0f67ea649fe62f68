/**
 * Resource matching of the offline IoT Core's policy engine, edge by edge ("AWS IoT Core
 * policies": `*` any run of characters, `?` exactly one, policy variables in version
 * 2012-10-17, and the literal escapes `${*}`, `${?}`, `${$}`; "IAM JSON policy elements:
 * Resource"). Found by mutation testing (npm run mutate): these cases decide between a match and
 * none where the broader tests in iot-policy.test.ts did not.
 */
import { describe, expect, it } from '@jest/globals';
import { evaluate, type PolicyContext, type PolicyDocument } from '../../local/iot/policy';

const ARN = 'arn:aws:iot:us-east-1:000000000000';
const ctx: PolicyContext = {
  region: 'us-east-1',
  accountId: '000000000000',
  thingName: 'sensor-1',
  clientId: 'sensor-1',
  certificateId: 'c0ffee',
};

const allowPublish = (...topics: string[]): PolicyDocument => ({
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Action: 'iot:Publish', Resource: topics.map((t) => `${ARN}:topic/${t}`) },
  ],
});
const publishes = (document: PolicyDocument, topic: string, context = ctx) =>
  evaluate(document, 'iot:Publish', topic, context).allowed;

describe('wildcards in a Resource', () => {
  it.each([
    ['a/*', 'a/', true],
    ['a/*', 'a/anything/at/all', true],
    ['a/b*', 'a/b', true],
    ['a/b**', 'a/b', true],
    ['a/*b', 'a/aab', true],
    ['a/*b', 'a/aaa', false],
    ['a/*ab*', 'a/xaxab1', true],
    ['a/*ab*', 'a/xaxa', false],
    ['a/?', 'a/x', true],
    ['a/?', 'a/', false],
    ['a/?', 'a/xy', false],
    ['a/b?d', 'a/bcd', true],
    ['a/abc', 'a/abc', true],
    ['a/abc', 'a/abd', false],
    ['a/abc', 'a/ab', false],
    ['a/abc', 'a/abcd', false],
    ['a/x*y', 'a/xzzy', true],
    ['a/x*y', 'a/xzzyz', false],
  ])('%s against %s: %s', (pattern, topic, allowed) => {
    expect(publishes(allowPublish(pattern), topic)).toBe(allowed);
  });
});

describe('policy variables and their escapes (version 2012-10-17)', () => {
  it.each([
    ['${iot:ClientId}', 'sensor-1', true],
    ['${iot:ClientId}${iot:ClientId}', 'sensor-1sensor-1', true],
    ['${iot:ClientId}${iot:ClientId}', 'sensor-1', false],
    ['x}${iot:ClientId}', 'x}sensor-1', true],
    ['a}b', 'a}b', true],
    ['a}b', 'a}c', false],
    ['open${', 'open${', true],
    ['${*}', '*', true],
    ['${*}', 'x', false],
    ['${?}', '?', true],
    ['${?}', 'x', false],
    ['${$}', '$', true],
  ])('%s against %s: %s', (pattern, topic, allowed) => {
    expect(publishes(allowPublish(pattern), topic)).toBe(allowed);
  });

  it('a Resource whose variable has no value matches nothing, but the next one still can', () => {
    const document = allowPublish('${iot:Connection.Thing.ThingName}/x', 'open/x');
    const withoutThing = { ...ctx, thingName: undefined };
    expect(publishes(document, 'sensor-1/x', withoutThing)).toBe(false);
    expect(publishes(document, 'open/x', withoutThing)).toBe(true);
  });
});

describe('the reason of a denial', () => {
  it('names each statement skipped for a variable without a value, and why', () => {
    const decision = evaluate(
      allowPublish('${iot:Connection.Thing.ThingName}/x'),
      'iot:Publish',
      'sensor-1/x',
      { ...ctx, thingName: undefined },
    );
    expect(decision).toEqual({
      allowed: false,
      reason:
        `denied: no statement allows iot:Publish on ${ARN}:topic/sensor-1/x ` +
        '(Statement[0] was skipped: ${iot:Connection.Thing.ThingName} has no value: no thing is attached)',
    });
  });

  it('says no more than that when nothing was skipped', () => {
    expect(evaluate(allowPublish('other'), 'iot:Publish', 'sensor-1/x', ctx)).toEqual({
      allowed: false,
      reason: `denied: no statement allows iot:Publish on ${ARN}:topic/sensor-1/x`,
    });
  });
});
