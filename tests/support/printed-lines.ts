/**
 * What the code under test prints as JSON lines (Powertools' Logger and Metrics write one JSON
 * object per line to stdout or stderr), kept for the test instead of printed. Call it in a
 * `beforeEach`; `jest.restoreAllMocks()` ends the capture.
 */
import { jest } from '@jest/globals';

/**
 * Lines of a write whose every line `keep` accepts are recorded (in the returned array, which the
 * test may empty) and not printed; any other write passes through.
 */
export function capturePrintedLines(
  keep: (line: string) => boolean,
  streams: NodeJS.WriteStream[] = [process.stdout],
): string[] {
  const lines: string[] = [];
  for (const stream of streams) {
    const write = stream.write.bind(stream);
    jest.spyOn(stream, 'write').mockImplementation((chunk, ...rest) => {
      const written = String(chunk).split('\n').filter(Boolean);
      if (written.length > 0 && written.every(keep)) {
        lines.push(...written);
        return true;
      }
      return write(chunk, ...(rest as []));
    });
  }
  return lines;
}

/** The embedded-metric-format lines Powertools' Metrics prints. */
export const isEmfLine = (line: string): boolean => line.includes('"_aws"');
