import { describe, expect, it } from '@jest/globals';
import path from 'node:path';
import {
  formatUsage,
  parseOptions,
  UsageError,
  type CommandSpec,
  type OptionSpecs,
} from '../../scripts/cli/command-line';
import { deviceOptions, resolveTarget } from '../../scripts/devices/device-options';

const spec = {
  command: 'npm run demo --',
  summary: 'Does a demo.',
  options: {
    name: { type: 'string', value: 'NAME', required: true, description: 'who' },
    count: { type: 'string', description: 'how many' },
    loud: { type: 'boolean', description: 'shout' },
  },
  notes: ['Example: npm run demo -- --name x'],
} as const satisfies CommandSpec<OptionSpecs>;

describe('parseOptions (scripts/cli)', () => {
  it('parses long options, defaulting booleans to false', () => {
    const options = parseOptions(spec, ['--name', 'ada', '--count=3']);
    expect(options).toEqual({ name: 'ada', count: '3', loud: false });
  });

  it('returns undefined for --help and -h, whatever else is given', () => {
    expect(parseOptions(spec, ['--help'])).toBeUndefined();
    expect(parseOptions(spec, ['--bogus', '-h'])).toBeUndefined();
  });

  it.each([
    [['--name', 'a', '--bogus'], /Unknown option '--bogus'/],
    [['--name'], /argument missing/],
    [['--name', 'a', 'stray'], /Unexpected argument 'stray'/],
    [[], /--name is required/],
    [['--loud=yes', '--name', 'a'], /does not take an argument/],
  ])('rejects %j with a UsageError', (argv, message) => {
    expect(() => parseOptions(spec, argv)).toThrow(UsageError);
    expect(() => parseOptions(spec, argv)).toThrow(message);
  });
});

describe('formatUsage (scripts/cli)', () => {
  it('lists the synopsis, every option, --help and the notes', () => {
    expect(formatUsage(spec)).toBe(
      [
        'Usage: npm run demo -- --name NAME [options]',
        '',
        'Does a demo.',
        '',
        'Options:',
        '  --name NAME    who (required)',
        '  --count VALUE  how many',
        '  --loud         shout',
        '  --help         show this help',
        '',
        'Example: npm run demo -- --name x',
        '',
      ].join('\n'),
    );
  });
});

describe('resolveTarget (device options)', () => {
  const env = { LOCAL_CLOUD_DIR: '/tmp/cloud' };
  const parse = (...argv: string[]) => {
    const options = parseOptions({ command: 'x', summary: '', options: deviceOptions }, argv);
    if (!options) throw new Error('unexpected --help');
    return resolveTarget(options, env);
  };

  it('is local by default, with devices beside the local CA', () => {
    expect(parse('--thing', 'sensor-1')).toEqual({
      mode: 'local',
      thingName: 'sensor-1',
      devicesDir: path.join('/tmp/cloud', 'devices'),
      localCloudDir: '/tmp/cloud',
    });
    expect(parse('--thing', 'sensor-1', '--local', '--out', 'rel').devicesDir).toBe(
      path.resolve('rel'),
    );
  });

  it('is AWS with --stage, with devices under certs/<stage>', () => {
    const target = parse('--thing', 'sensor-1', '--stage', 'prod', '--region', 'eu-west-1');
    expect(target).toMatchObject({ mode: 'aws', stage: 'prod', region: 'eu-west-1' });
    expect(target.devicesDir).toMatch(/[/\\]certs[/\\]prod$/);
  });

  it.each([
    ['an invalid thing name', ['--thing', 'bad name'], /not a valid thing name/],
    ['a 129-character thing name', ['--thing', 'a'.repeat(129)], /not a valid thing name/],
    ['--stage with --local', ['--thing', 'a', '--stage', 'dev', '--local'], /choose one/],
    ['--region without --stage', ['--thing', 'a', '--region', 'eu-west-1'], /needs --stage/],
    ['a stage with an underscore', ['--thing', 'a', '--stage', 'dev_1'], /letters, digits/],
  ])('rejects %s with a UsageError', (_label, argv, message) => {
    expect(() => parse(...argv)).toThrow(UsageError);
    expect(() => parse(...argv)).toThrow(message);
  });
});
