import fs from 'node:fs';
import path from 'node:path';

export interface KeyDirectoryFile {
  name: string;
  content: string;
  /** Private keys: written with mode 0600. */
  secret?: boolean;
}

/**
 * Writes the files into a fresh sibling directory and renames it into place, so that nobody ever
 * sees a half-written identity (a certificate without its key), and two processes racing to
 * create the same directory end up sharing one complete set. The directory gets mode 0700 (from
 * mkdtemp) since it holds a private key.
 *
 * Returns false, writing nothing, when `dir` already holds files and `replace` is not set.
 */
export function writeKeyDirectory(
  dir: string,
  files: readonly KeyDirectoryFile[],
  options: { replace?: boolean } = {},
): boolean {
  const parent = path.dirname(dir);
  fs.mkdirSync(parent, { recursive: true });
  const staging = fs.mkdtempSync(path.join(parent, `.${path.basename(dir)}.tmp-`));
  try {
    for (const file of files) {
      fs.writeFileSync(path.join(staging, file.name), file.content, {
        mode: file.secret ? 0o600 : 0o644,
      });
    }
    if (options.replace) fs.rmSync(dir, { recursive: true, force: true });
    // rename(2) replaces an empty directory but fails on one that holds files.
    fs.renameSync(staging, dir);
    return true;
  } catch (error) {
    fs.rmSync(staging, { recursive: true, force: true });
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST') return false;
    throw error;
  }
}
