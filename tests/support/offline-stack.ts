export { REPO_ROOT, SERVERLESS_BIN, startOfflineStack, type OfflineStack } from '../../local/stack';
