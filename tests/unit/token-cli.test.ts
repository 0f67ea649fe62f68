/**
 * `npm run token` never mints a token the stage would refuse: longer than the stage maximum
 * (TOKEN_MAX_LIFETIME_SECONDS, default 24 h) is a usage error, exit code 2 (issue 11, item 9).
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeJwt } from 'jose';

const root = fileURLToPath(new URL('../..', import.meta.url));
const localCloudDir = mkdtempSync(join(tmpdir(), 'token-cli-'));
afterAll(() => rmSync(localCloudDir, { recursive: true, force: true }));

function token(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/token.ts', ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, LOCAL_CLOUD_DIR: localCloudDir, ...env },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('npm run token', () => {
  it('mints a token of the maximum lifetime, 24 h', () => {
    const { status, stdout } = token(['--ttl', '24h']);
    expect(status).toBe(0);
    const { iat, exp } = decodeJwt(stdout.trim());
    expect((exp as number) - (iat as number)).toBe(86_400);
  });

  it('refuses a longer lifetime with the usage and exit code 2', () => {
    const { status, stdout, stderr } = token(['--ttl', '25h']);
    expect(status).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain('--ttl 25h is longer than the stage maximum of 86400s');
    expect(stderr).toContain('Usage: npm run token');
  });

  it('follows TOKEN_MAX_LIFETIME_SECONDS', () => {
    const refused = token(['--ttl', '1h'], { TOKEN_MAX_LIFETIME_SECONDS: '900' });
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('maximum of 900s');
    expect(token(['--ttl', '15m'], { TOKEN_MAX_LIFETIME_SECONDS: '900' }).status).toBe(0);
    expect(token([], { TOKEN_MAX_LIFETIME_SECONDS: 'soon' }).status).toBe(2);
  });
});
