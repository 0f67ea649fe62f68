// Imported first by bench/run.ts: offline credentials for the SDK clients and quiet SDK notices,
// set before any SDK module is evaluated.
import { useOfflineAwsEnv } from '../../local/offline-credentials';

useOfflineAwsEnv();
