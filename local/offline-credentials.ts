/** The SDK clients need credentials even offline; none of these reach AWS. */
export const OFFLINE_CREDENTIALS = { accessKeyId: 'offline', secretAccessKey: 'offline' };
export const OFFLINE_REGION = 'us-east-1';

/** The environment an SDK client (a Lambda worker, a test, a bench child) needs offline. */
export const OFFLINE_AWS_ENV = {
  AWS_REGION: OFFLINE_REGION,
  AWS_ACCESS_KEY_ID: OFFLINE_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: OFFLINE_CREDENTIALS.secretAccessKey,
  // The Lambda runtime is Node 22; the SDK's notice about the local Node 20 is noise here.
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
} as const;

/** Sets whatever of OFFLINE_AWS_ENV the environment does not set already. */
export function useOfflineAwsEnv(env: NodeJS.ProcessEnv = process.env): void {
  for (const [name, value] of Object.entries(OFFLINE_AWS_ENV)) env[name] ??= value;
}
