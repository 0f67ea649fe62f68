// Imported first by bench/run.ts: offline credentials for the SDK clients and quiet SDK notices,
// set before any SDK module is evaluated.
process.env.AWS_REGION ??= 'us-east-1';
process.env.AWS_ACCESS_KEY_ID ??= 'offline';
process.env.AWS_SECRET_ACCESS_KEY ??= 'offline';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export {};
