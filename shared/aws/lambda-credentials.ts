/**
 * Bundled in place of `@aws-sdk/credential-provider-node` (see `alias` in serverless.yml). Lambda,
 * `serverless-offline` and `sls invoke local` always hand a function its credentials in
 * environment variables, so the default chain's SSO, INI, process and IMDS providers — and the
 * STS/SSO clients they bring — are dead weight in a bundle.
 */
import { fromEnv } from '@aws-sdk/credential-provider-env';

export const defaultProvider = () => fromEnv();
export const credentialsWillNeedRefresh = () => false;
export const credentialsTreatedAsExpired = () => false;
