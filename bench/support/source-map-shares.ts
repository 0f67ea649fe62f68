/**
 * Which sources a bundle's characters come from, read off its source map: every mapped segment
 * of the generated code counts, up to the next segment, for the source it maps to. Sources are
 * grouped by npm package (`project` for the repository's own files).
 */
export interface SourceMap {
  sources: string[];
  mappings: string;
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const DIGITS = new Map([...BASE64].map((char, index) => [char, index]));

/** Decodes one segment's Base64 VLQ fields. */
export function decodeSegment(segment: string): number[] {
  const values: number[] = [];
  let value = 0;
  let shift = 0;
  for (const char of segment) {
    const digit = DIGITS.get(char);
    if (digit === undefined) throw new Error(`invalid VLQ character "${char}"`);
    value += (digit & 31) << shift;
    if (digit & 32) {
      shift += 5;
      continue;
    }
    values.push(value & 1 ? -(value >>> 1) : value >>> 1);
    value = 0;
    shift = 0;
  }
  return values;
}

/** Characters of generated code per source file (`(unmapped)` for code that maps to none). */
export function charactersBySource(code: string, map: SourceMap): Map<string, number> {
  const shares = new Map<string, number>();
  const add = (source: string, count: number) =>
    count > 0 && shares.set(source, (shares.get(source) ?? 0) + count);
  const lines = code.split('\n');
  const mappedLines = map.mappings.split(';');
  let sourceIndex = 0;
  lines.forEach((line, lineIndex) => {
    const segments = (mappedLines[lineIndex] ?? '').split(',').filter(Boolean);
    let column = 0;
    let previous: { column: number; source: string } | undefined;
    for (const segment of segments) {
      const fields = decodeSegment(segment);
      column += fields[0] ?? 0;
      if (previous) add(previous.source, column - previous.column);
      else add('(unmapped)', column);
      if (fields.length >= 4) sourceIndex += fields[1] ?? 0;
      const source = fields.length >= 4 ? (map.sources[sourceIndex] ?? '(unmapped)') : '(unmapped)';
      previous = { column, source };
    }
    if (previous) add(previous.source, line.length - previous.column);
    else add('(unmapped)', line.length);
    add('(unmapped)', lineIndex < lines.length - 1 ? 1 : 0); // the newline
  });
  return shares;
}

/** The npm package a source path belongs to, or `project`. */
export function packageOf(source: string): string {
  if (source === '(unmapped)') return source;
  const match = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(source.replaceAll('\\', '/'));
  return match ? (match[1] as string) : 'project';
}

export function charactersByPackage(code: string, map: SourceMap): Map<string, number> {
  const packages = new Map<string, number>();
  for (const [source, count] of charactersBySource(code, map)) {
    const name = packageOf(source);
    packages.set(name, (packages.get(name) ?? 0) + count);
  }
  return packages;
}
