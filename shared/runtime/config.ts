import { loadConfig } from '../config';
import { lazy } from './lazy';

export const config = lazy(() => loadConfig());
