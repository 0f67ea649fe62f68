/**
 * The offline stand-in for the stage's SSM SecureString: a random secret generated on first use
 * in the gitignored state folder (mode 0600), shared by the offline stack and `npm run token`.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const tokenSecretFile = (stateDir: string) => path.join(stateDir, 'websocket-token-secret');

export function ensureLocalTokenSecret(stateDir: string): string {
  const file = tokenSecretFile(stateDir);
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  try {
    // 'wx': if another process created it first, theirs wins and is read below.
    writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  return readFileSync(file, 'utf8').trim();
}
