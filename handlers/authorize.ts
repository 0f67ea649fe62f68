import { InvalidTokenError, verifyAccessToken } from '../shared/auth/tokens';
import { logger } from '../shared/logger';
import { recordAuthorizerRefusal } from '../shared/metrics';
import { connectAuthorizer } from '../shared/middleware/chain';
import { authConfig } from '../shared/runtime/config';
import { tokenSecret } from '../shared/runtime/token-secret';

/**
 * The $connect REQUEST authorizer: the `token` query parameter must be a valid, unexpired token
 * of this stage, issued no later than now and living no longer than the stage allows. Anything
 * else is denied (the handshake fails with 403).
 */
export const handler = connectAuthorizer(async (event) => {
  const token = event.queryStringParameters?.token;
  if (!token) {
    logger.info('Connection refused: no token');
    recordAuthorizerRefusal();
    return undefined;
  }
  try {
    const { stage, tokenLifetime } = authConfig();
    return await verifyAccessToken(await tokenSecret(), token, stage, tokenLifetime);
  } catch (error) {
    if (!(error instanceof InvalidTokenError)) throw error;
    logger.info('Connection refused: invalid token', { reason: error.message });
    recordAuthorizerRefusal();
    return undefined;
  }
});
