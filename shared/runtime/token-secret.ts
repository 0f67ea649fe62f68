import { loadTokenSecret } from '../auth/secret';
import { authConfig } from './config';
import { lazyAsync } from './lazy';

export const tokenSecret = lazyAsync(() => loadTokenSecret(authConfig()));
