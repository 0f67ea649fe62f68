/**
 * The token signing secret: given directly (offline, injected by the local plugin) or read once
 * per Lambda instance from an SSM SecureString parameter (AWS).
 */
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { Config } from '../config';
import { ConfigError } from '../errors';

export async function loadTokenSecret(
  config: Pick<Config, 'tokenSecret' | 'tokenSecretParameter'>,
): Promise<string> {
  if (config.tokenSecret) return config.tokenSecret;
  if (!config.tokenSecretParameter) {
    throw new ConfigError(
      'Set TOKEN_SECRET or TOKEN_SECRET_PARAMETER for the WebSocket authorizer',
    );
  }
  const client = new SSMClient({});
  try {
    const { Parameter } = await client.send(
      new GetParameterCommand({ Name: config.tokenSecretParameter, WithDecryption: true }),
    );
    if (!Parameter?.Value)
      throw new ConfigError(`SSM parameter ${config.tokenSecretParameter} is empty`);
    return Parameter.Value;
  } finally {
    client.destroy();
  }
}
