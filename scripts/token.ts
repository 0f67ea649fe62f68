/**
 * `npm run token`: mints a WebSocket access token. Offline it signs with the local secret that
 * `npm start` uses; with --stage it reads the stage's secret from SSM (AWS credentials needed).
 * The token alone goes to stdout, so `TOKEN=$(npm run -s token)` works.
 */
import { loadTokenSecret } from '../shared/auth/secret';
import { signAccessToken, type TokenLifetimePolicy } from '../shared/auth/tokens';
import { tokenLifetimeFromEnv } from '../shared/config';
import { ConfigError } from '../shared/errors';
import { ensureLocalTokenSecret } from '../local/auth/token-secret';
import { defaultLocalCloudDir } from '../local/iot/identity';
import { parseDuration, runCommand, UsageError, type CommandSpec } from './cli/command-line';

const options = {
  stage: {
    type: 'string',
    value: 'STAGE',
    description: 'a deployed stage: the secret comes from SSM',
  },
  local: {
    type: 'boolean',
    description: 'sign with the offline secret (the default without --stage)',
  },
  ttl: {
    type: 'string',
    value: 'DURATION',
    description: 'lifetime, e.g. 15m, 1h, 8h (default 1h; at most the stage maximum, 24h)',
  },
  topics: {
    type: 'string',
    value: 'FILTERS',
    description: 'comma-separated MQTT filters the holder may receive (default: all)',
  },
  commands: { type: 'boolean', description: 'allow sendCommand' },
  subject: { type: 'string', value: 'NAME', description: 'who the token is for (default: $USER)' },
  url: {
    type: 'string',
    value: 'WS_URL',
    description: 'print WS_URL?token=… instead of the bare token',
  },
} as const;

const spec = {
  command: 'npm run token --',
  summary:
    'Mints a WebSocket access token (an HS256 JWT) for the offline stack or a deployed stage.',
  options,
  notes: [
    'Examples:',
    '  npx wscat -c "ws://localhost:3001?token=$(npm run -s token -- --commands)"',
    '  npm run token -- --stage prod --ttl 8h --topics devices/+/telemetry',
    '',
    'On AWS the secret is the SSM SecureString /telemetry/<stage>/websocket-token-secret.',
    'TOKEN_MAX_LIFETIME_SECONDS: the stage maximum for --ttl (default 86400), as the stage sets it.',
  ],
} as const satisfies CommandSpec<typeof options>;

await runCommand(spec, async (values) => {
  const stage = values.stage ?? 'dev';
  const offline = values.local || values.stage === undefined;
  const ttlSeconds = Math.round(parseDuration('ttl', values.ttl ?? '1h') / 1000);
  if (ttlSeconds < 1) throw new UsageError('--ttl must be at least 1s');
  const policy = stageTokenLifetime();
  // Refused before the secret is read: a token the stage would refuse is never minted.
  if (ttlSeconds > policy.maxLifetimeSeconds) {
    throw new UsageError(
      `--ttl ${values.ttl} is longer than the stage maximum of ${policy.maxLifetimeSeconds}s ` +
        '(TOKEN_MAX_LIFETIME_SECONDS)',
    );
  }
  const topics = values.topics
    ?.split(',')
    .map((filter) => filter.trim())
    .filter(Boolean);
  if (topics && topics.length === 0) throw new UsageError('--topics needs at least one filter');

  const secret = offline
    ? ensureLocalTokenSecret(defaultLocalCloudDir())
    : await loadTokenSecret({
        tokenSecret: undefined,
        tokenSecretParameter: `/telemetry/${stage}/websocket-token-secret`,
      });
  let token: string;
  try {
    token = await signAccessToken(
      secret,
      {
        subject: values.subject ?? process.env.USER ?? 'developer',
        topics,
        commands: values.commands,
        ttlSeconds,
        stage,
      },
      policy,
    );
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  process.stdout.write(values.url ? `${values.url}?token=${token}\n` : `${token}\n`);
});

function stageTokenLifetime(): TokenLifetimePolicy {
  try {
    return tokenLifetimeFromEnv(process.env);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message);
    throw error;
  }
}
