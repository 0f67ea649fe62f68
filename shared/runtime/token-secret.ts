import { loadTokenSecret } from '../auth/secret';
import { config } from './config';
import { lazyAsync } from './lazy';

export const tokenSecret = lazyAsync(() => loadTokenSecret(config()));
