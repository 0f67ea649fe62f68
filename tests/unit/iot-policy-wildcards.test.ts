/**
 * The wildcard matcher under the policy engine on its own ("AWS IoT Core policies" and "IAM JSON
 * policy elements: Resource": `*` is any run of characters, `?` exactly one, everything else
 * itself, and the whole resource must match). Through whole ARNs the tests in
 * iot-policy-matching.test.ts cannot tell a matcher that also finds a pattern inside the text, or
 * that skips a character after a mismatch, from the right one: every ARN starts alike. Found by
 * the mutation run (docs/mutation.md).
 */
import { describe, expect, it } from '@jest/globals';

import { resourcePattern, wildcardMatch, wildcardPattern } from '../../local/iot/policy/pattern';

const matches = (pattern: string, text: string) => wildcardMatch(wildcardPattern(pattern), text);

describe('wildcardMatch', () => {
  it.each([
    ['b', 'ab', false],
    ['ab', 'ax', false],
    ['ab', 'abx', false],
    ['abc', 'abd', false],
    ['a*c', 'abxd', false],
    ['a?c', 'abbc', false],
    ['*b', 'ab', true],
    ['a*', 'a', true],
    ['a*c', 'abbbc', true],
    ['a*b*c', 'axbyc', true],
    ['a?c', 'abc', true],
    ['', '', true],
    ['', 'a', false],
    ['**', 'anything', true],
  ])('%s against %s: %s', (pattern, text, expected) => {
    expect(matches(pattern, text)).toBe(expected);
  });
});

describe('resourcePattern', () => {
  const resolve = (name: string) => (name === 'iot:ClientId' ? 'c-1' : undefined);

  it('puts a variable’s value in as literal characters, wildcards in it included', () => {
    const compiled = resourcePattern('topic/${iot:ClientId}/*', resolve);
    expect('pattern' in compiled && wildcardMatch(compiled.pattern, 'topic/c-1/x')).toBe(true);
    expect('pattern' in compiled && wildcardMatch(compiled.pattern, 'topic/c-2/x')).toBe(false);
    const star = resourcePattern('a/${iot:ClientId}', () => '*');
    expect('pattern' in star && wildcardMatch(star.pattern, 'a/*')).toBe(true);
    expect('pattern' in star && wildcardMatch(star.pattern, 'a/b')).toBe(false);
  });

  it('names a variable it cannot resolve; an unclosed ${ is literal text', () => {
    expect(resourcePattern('topic/${iot:Nope}', resolve)).toEqual({ unresolved: 'iot:Nope' });
    // Not a literal escape as `${*}` is: Object.prototype's member names are unknown variables.
    for (const name of ['constructor', 'toString', '__proto__']) {
      expect(resourcePattern(`topic/\${${name}}`, resolve)).toEqual({ unresolved: name });
    }
    const open = resourcePattern('topic/${iot:ClientId', resolve);
    expect('pattern' in open && wildcardMatch(open.pattern, 'topic/${iot:ClientId')).toBe(true);
  });
});
