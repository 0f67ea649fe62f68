/**
 * MQTT topic names and filters, with AWS IoT Core's limits. Shared by the subscription routes
 * (validation), the broadcaster (matching) and the offline IoT Core.
 */
export const TOPIC_MAX_BYTES = 256;
/** IoT Core allows at most 8 levels, i.e. 7 forward slashes, in a topic or filter. */
export const TOPIC_MAX_SLASHES = 7;

export const telemetryTopic = (deviceId: string): string => `devices/${deviceId}/telemetry`;
export const commandTopic = (deviceId: string): string => `devices/${deviceId}/commands`;

/** The reason a topic filter is not valid, or undefined when it is. */
export function topicFilterProblem(filter: string): string | undefined {
  const common = commonProblem(filter);
  if (common) return common;
  const levels = filter.split('/');
  for (const [index, level] of levels.entries()) {
    if (level.includes('#') && (level !== '#' || index !== levels.length - 1)) {
      return '"#" must be a whole level and the last one';
    }
    if (level.includes('+') && level !== '+') return '"+" must be a whole level';
  }
  return undefined;
}

/** The reason a topic name (to publish to) is not valid, or undefined when it is. */
export function topicNameProblem(topic: string): string | undefined {
  const common = commonProblem(topic);
  if (common) return common;
  if (/[+#]/.test(topic)) return 'wildcards "+" and "#" are not allowed in a topic name';
  return undefined;
}

const utf8 = new TextEncoder();

function commonProblem(value: string): string | undefined {
  if (value.length === 0) return 'it is empty';
  // TextEncoder, not Buffer: the dashboard type-checks this module as browser code.
  const bytes = utf8.encode(value).length;
  if (bytes > TOPIC_MAX_BYTES) return `it is ${bytes} bytes; the limit is ${TOPIC_MAX_BYTES}`;
  const slashes = value.split('/').length - 1;
  if (slashes > TOPIC_MAX_SLASHES) {
    return `it has ${slashes} slashes; the limit is ${TOPIC_MAX_SLASHES}`;
  }
  if (value.includes('\u0000')) return 'it contains a NUL character';
  return undefined;
}

/** MQTT matching: `+` matches one level, a trailing `#` matches the rest (including none). */
export function topicMatches(filter: string, topic: string): boolean {
  const filterLevels = filter.split('/');
  const topicLevels = topic.split('/');
  // Filters starting with a wildcard never match topics starting with '$' (MQTT 3.1.1, 4.7.2).
  if (topic.startsWith('$') && (filterLevels[0] === '+' || filterLevels[0] === '#')) return false;
  for (let i = 0; i < filterLevels.length; i++) {
    const level = filterLevels[i];
    if (level === '#') return true;
    if (i >= topicLevels.length) return false;
    if (level !== '+' && level !== topicLevels[i]) return false;
  }
  return filterLevels.length === topicLevels.length;
}

/**
 * Whether every topic `inner` matches is also matched by `outer`: the test for "may this client
 * subscribe to that filter" when its token allows only some filters.
 */
export function filterCovers(outer: string, inner: string): boolean {
  const outerLevels = outer.split('/');
  const innerLevels = inner.split('/');
  for (let i = 0; i < outerLevels.length; i++) {
    const level = outerLevels[i];
    if (level === '#') return true;
    const other = innerLevels[i];
    if (other === undefined || other === '#') return false;
    if (level === '+') continue;
    if (other === '+' || other !== level) return false;
  }
  return outerLevels.length === innerLevels.length;
}
