import { IotCommandPublisher } from '../commands';
import { config } from './config';
import { lazy } from './lazy';

export const commandPublisher = lazy(() => new IotCommandPublisher(config().iotDataEndpoint));
