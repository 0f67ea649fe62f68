/** Command-line clients nobody here wrote (mosquitto, curl): CI installs them (.ci/run). */
import { it, expect } from '@jest/globals';
import { existsSync } from 'node:fs';
import path from 'node:path';

export function missingTools(tools: string[]): string[] {
  return tools.filter(
    (tool) =>
      !['/usr/bin', '/usr/local/bin', '/bin'].some((dir) => existsSync(path.join(dir, tool))),
  );
}

/**
 * Inside a describe: true when every tool is there. Otherwise registers what stands in for the
 * tests — a failing check under CI (it must install them), a skip with the install command
 * elsewhere — and returns false, so the caller registers nothing else.
 */
export function requireTools(tools: string[]): boolean {
  const missing = missingTools(tools);
  if (missing.length === 0) return true;
  if (process.env.CI) {
    it('are installed (CI installs mosquitto-clients and curl)', () => {
      expect(missing).toEqual([]);
    });
  } else {
    it.skip(`need ${missing.join(', ')}: apt-get install mosquitto-clients curl`, () => undefined);
  }
  return false;
}
