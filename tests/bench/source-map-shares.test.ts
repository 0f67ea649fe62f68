import { describe, expect, it } from '@jest/globals';
import {
  charactersByPackage,
  charactersBySource,
  decodeSegment,
  packageOf,
} from '../../bench/support/source-map-shares';
import { percentile } from '../../bench/support/stats';

describe('source map attribution (bench cold start)', () => {
  it('decodes Base64 VLQ segments', () => {
    expect(decodeSegment('AAAA')).toEqual([0, 0, 0, 0]);
    expect(decodeSegment('CAAC')).toEqual([1, 0, 0, 1]);
    expect(decodeSegment('D')).toEqual([-1]);
    expect(decodeSegment('gBAAA')).toEqual([16, 0, 0, 0]);
    expect(() => decodeSegment('A!')).toThrow(/invalid VLQ/);
  });

  it('counts each generated span for the source it maps to, up to the next segment', () => {
    // "abcdefghij": columns 0-3 from a.ts, 4-9 from node_modules/zod/index.js.
    const map = { sources: ['a.ts', 'node_modules/zod/index.js'], mappings: 'AAAA,ICAA' };
    expect(charactersBySource('abcdefghij', map)).toEqual(
      new Map([
        ['a.ts', 4],
        ['node_modules/zod/index.js', 6],
      ]),
    );
    expect(charactersByPackage('abcdefghij', map)).toEqual(
      new Map([
        ['project', 4],
        ['zod', 6],
      ]),
    );
  });

  it('counts unmapped code and newlines, so the shares add up to the bundle', () => {
    const code = 'ab\ncdef';
    const map = { sources: ['x.ts'], mappings: ';EAAA' }; // line 2 from column 2
    const shares = charactersBySource(code, map);
    expect([...shares.values()].reduce((a, b) => a + b, 0)).toBe(code.length);
    expect(shares.get('x.ts')).toBe(2);
  });

  it('names scoped and plain packages', () => {
    expect(packageOf('../../node_modules/@smithy/core/dist-es/index.js')).toBe('@smithy/core');
    expect(packageOf('../../node_modules/zod/v4/mini.js')).toBe('zod');
    expect(packageOf('../../shared/connections/broadcaster.ts')).toBe('project');
  });
});

describe('percentile (bench)', () => {
  it('is the nearest rank', () => {
    const samples = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(samples, 50)).toBe(50);
    expect(percentile(samples, 99)).toBe(99);
    expect(percentile(samples, 100)).toBe(100);
    expect(percentile([3, 1, 2], 50)).toBe(2);
    expect(percentile([], 50)).toBeNaN();
  });
});
