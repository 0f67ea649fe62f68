/**
 * Argument parsing and usage text shared by the project's command-line tools: long options only,
 * every command has --help, bad arguments print the usage to stderr with exit code 2, and any
 * other failure prints its message with exit code 1.
 */
import { parseArgs } from 'node:util';

export interface OptionSpec {
  type: 'string' | 'boolean';
  description: string;
  /** Shown after a string option in the usage: `--thing NAME`. */
  value?: string;
  required?: boolean;
}

export type OptionSpecs = Record<string, OptionSpec>;

export interface CommandSpec<Options extends OptionSpecs> {
  /** How the command is run, e.g. `npm run device:create --`. */
  command: string;
  summary: string;
  options: Options;
  /** Lines printed after the options: examples, environment variables. */
  notes?: readonly string[];
  /** Unknown options and arguments are handed on (to `main`'s `rest`) instead of refused. */
  passThrough?: boolean;
}

/** Booleans default to false; optional strings may be undefined. */
export type OptionValues<Options extends OptionSpecs> = {
  [Name in keyof Options]: Options[Name]['type'] extends 'boolean'
    ? boolean
    : Options[Name]['required'] extends true
      ? string
      : string | undefined;
};

/** Thrown for arguments that make no sense; `runCommand` answers it with the usage and exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export function formatUsage<Options extends OptionSpecs>(spec: CommandSpec<Options>): string {
  const entries = Object.entries(spec.options);
  const label = (name: string, option: OptionSpec) =>
    option.type === 'string' ? `--${name} ${option.value ?? 'VALUE'}` : `--${name}`;
  const synopsis = [
    ...entries.filter(([, option]) => option.required).map(([name, o]) => label(name, o)),
    '[options]',
  ].join(' ');
  const rows: [string, string][] = [
    ...entries.map(([name, option]): [string, string] => [
      label(name, option),
      option.required ? `${option.description} (required)` : option.description,
    ]),
    ['--help', 'show this help'],
  ];
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  const lines = [
    `Usage: ${spec.command} ${synopsis}`,
    '',
    spec.summary,
    '',
    'Options:',
    ...rows.map(([left, right]) => `  ${left.padEnd(width)}${right}`),
  ];
  if (spec.notes?.length) lines.push('', ...spec.notes);
  return `${lines.join('\n')}\n`;
}

/** The parsed options, or undefined when --help (or -h) is among the arguments. */
export function parseOptions<Options extends OptionSpecs>(
  spec: CommandSpec<Options>,
  argv: readonly string[],
): OptionValues<Options> | undefined {
  return parseCommandLine(spec, argv)?.options;
}

function parseCommandLine<Options extends OptionSpecs>(
  spec: CommandSpec<Options>,
  argv: readonly string[],
): { options: OptionValues<Options>; rest: string[] } | undefined {
  if (argv.includes('--help') || argv.includes('-h')) return undefined;
  let values: Record<string, string | boolean | undefined>;
  const rest: string[] = [];
  try {
    const config = Object.fromEntries(
      Object.entries(spec.options).map(([name, option]) => [name, { type: option.type }]),
    );
    const strict = !spec.passThrough;
    const parsed = parseArgs({ args: [...argv], options: config, strict, tokens: true });
    values = parsed.values;
    // Not strict: what is not ours goes on in its order, `--name=value` and `--name value` alike.
    for (const token of strict ? [] : parsed.tokens) {
      if (token.kind === 'positional') rest.push(token.value);
      else if (token.kind === 'option-terminator') rest.push('--');
      else if (!(token.name in spec.options)) {
        rest.push(token.inlineValue ? `${token.rawName}=${token.value}` : token.rawName);
        delete values[token.name];
      }
    }
  } catch (error) {
    // parseArgs reports unknown options, missing values and stray arguments as TypeErrors.
    throw new UsageError((error as Error).message);
  }
  for (const [name, option] of Object.entries(spec.options)) {
    const value = values[name];
    if (value !== undefined && typeof value !== option.type) {
      throw new UsageError(`--${name} needs a value`);
    }
    if (option.type === 'boolean') values[name] ??= false;
    else if (option.required && values[name] === undefined) {
      throw new UsageError(`--${name} is required`);
    }
  }
  return { options: values as OptionValues<Options>, rest };
}

/**
 * Parses the arguments and runs `main`, turning errors into messages and exit codes
 * (process.exitCode, so that pending output is flushed before the process ends).
 */
export async function runCommand<Options extends OptionSpecs>(
  spec: CommandSpec<Options>,
  main: (options: OptionValues<Options>, rest: string[]) => Promise<void> | void,
  argv: readonly string[] = process.argv.slice(2),
): Promise<void> {
  try {
    const parsed = parseCommandLine(spec, argv);
    if (parsed === undefined) {
      process.stdout.write(formatUsage(spec));
      return;
    }
    await main(parsed.options, parsed.rest);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`error: ${error.message}\n\n${formatUsage(spec)}`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    }
  }
}

const DURATION_UNITS_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** `500ms`, `10s`, `15m`, `1h`, `7d` (a bare number is milliseconds) → milliseconds. */
export function parseDuration(name: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  const ms = match ? Number(match[1]) * (DURATION_UNITS_MS[match[2] ?? 'ms'] ?? NaN) : NaN;
  if (!Number.isSafeInteger(ms) || ms <= 0) {
    throw new UsageError(`--${name} must be a duration such as 500ms, 10s or 1m, got "${text}"`);
  }
  return ms;
}
