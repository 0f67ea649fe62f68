import { loadAuthConfig, loadConfig } from '../config';
import { lazy } from './lazy';

export const config = lazy(() => loadConfig());
/** The authorizer's share only: it runs without CONNECTIONS_TABLE or the management endpoint. */
export const authConfig = lazy(() => loadAuthConfig());
