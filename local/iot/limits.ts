/**
 * AWS IoT Core's message broker limits and topic rules, enforced locally so a device that breaks
 * them fails here as it would in AWS.
 */
import { topicFilterProblem, topicNameProblem } from '../../shared/topics';

export const MAX_PAYLOAD_BYTES = 128 * 1024;
export const MAX_CLIENT_ID_BYTES = 128;

/** "Reducing messaging costs with Basic Ingest": `$aws/rules/<ruleName>/<topic>`. */
export const BASIC_INGEST_PREFIX = '$aws/rules/';

/** The rule a Basic Ingest topic addresses and the topic the rule sees, or undefined. */
export function basicIngestTopic(topic: string): { ruleName: string; topic: string } | undefined {
  if (!topic.startsWith(BASIC_INGEST_PREFIX)) return undefined;
  const rest = topic.slice(BASIC_INGEST_PREFIX.length);
  const slash = rest.indexOf('/');
  if (slash <= 0 || slash === rest.length - 1) return undefined;
  return { ruleName: rest.slice(0, slash), topic: rest.slice(slash + 1) };
}

/** Why a device may not publish this message, or undefined when it may. */
export function publishProblem(topic: string, payloadBytes: number): string | undefined {
  if (topic.startsWith(BASIC_INGEST_PREFIX)) {
    // The documented exception among reserved topics. Its first three levels count toward
    // neither the 8-level nor the 256-character limit ("Basic Ingest").
    const ingest = basicIngestTopic(topic);
    if (!ingest) {
      return `invalid Basic Ingest topic "${truncate(topic)}": use $aws/rules/<ruleName>/<topic>`;
    }
    const problem = topicNameProblem(ingest.topic);
    if (problem)
      return `invalid topic "${truncate(topic)}" after $aws/rules/${ingest.ruleName}/: ${problem}`;
    return payloadProblem(payloadBytes);
  }
  const topicProblem = topicNameProblem(topic);
  if (topicProblem) return `invalid topic "${truncate(topic)}": ${topicProblem}`;
  if (topic.startsWith('$')) {
    // Reserved topics ($aws/things/…/shadow, jobs…) belong to services this offline twin lacks.
    return `publishing to the reserved topic "${truncate(topic)}" is not allowed`;
  }
  return payloadProblem(payloadBytes);
}

function payloadProblem(payloadBytes: number): string | undefined {
  if (payloadBytes > MAX_PAYLOAD_BYTES) {
    return `payload of ${payloadBytes} bytes exceeds the ${MAX_PAYLOAD_BYTES}-byte limit`;
  }
  return undefined;
}

export function subscribeProblem(filter: string): string | undefined {
  const problem = topicFilterProblem(filter);
  if (problem) return `invalid topic filter "${truncate(filter)}": ${problem}`;
  // "Your devices and rules cannot subscribe to Basic Ingest reserved topics": a filter that
  // could match $aws/rules/… is refused, so that no Basic Ingest message reaches a subscriber.
  const [first, second] = filter.split('/');
  if (first === '$aws' && (second === 'rules' || second === '+' || second === '#')) {
    return `subscribing to Basic Ingest topics ($aws/rules/…) is not allowed: "${truncate(filter)}"`;
  }
  return undefined;
}

const truncate = (value: string) => (value.length > 80 ? `${value.slice(0, 77)}...` : value);
