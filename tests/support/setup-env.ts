// Runs before every test file: quiet structured logs and the SDK's Node-version notice.
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
// EMF metric lines go straight to stdout; tests/handlers/metrics.test.ts turns them back on.
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.AWS_REGION ??= 'us-east-1';
process.env.AWS_ACCESS_KEY_ID ??= 'offline';
process.env.AWS_SECRET_ACCESS_KEY ??= 'offline';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
