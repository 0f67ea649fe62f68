import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where the offline cloud keeps its generated keys and certificates: `$LOCAL_CLOUD_DIR` when set
 * (tests point it at a temporary directory), otherwise `<repo>/.local-cloud`, found from this
 * module's location so that every command finds the same CA whatever directory it runs from.
 */
export function defaultLocalCloudDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.LOCAL_CLOUD_DIR;
  if (fromEnv) return path.resolve(fromEnv);
  return fileURLToPath(new URL('../../../.local-cloud', import.meta.url));
}
