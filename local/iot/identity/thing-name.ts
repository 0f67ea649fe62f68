import { THING_NAME_PATTERN } from '../../../shared/protocol';

export { THING_NAME_PATTERN };

export function isThingName(value: string): boolean {
  return THING_NAME_PATTERN.test(value);
}
