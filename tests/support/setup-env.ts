// Runs before every test file: quiet structured logs, the offline credentials and region.
import { useOfflineAwsEnv } from '../../local/offline-credentials';

process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
// EMF metric lines go straight to stdout; tests/handlers/metrics.test.ts turns them back on.
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
useOfflineAwsEnv();
