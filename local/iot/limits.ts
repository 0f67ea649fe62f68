/**
 * AWS IoT Core's message broker limits and topic rules, enforced locally so a device that breaks
 * them fails here as it would in AWS.
 */
import { topicFilterProblem, topicNameProblem } from '../../shared/topics';

export const MAX_PAYLOAD_BYTES = 128 * 1024;
export const MAX_CLIENT_ID_BYTES = 128;

/** Why a device may not publish this message, or undefined when it may. */
export function publishProblem(topic: string, payloadBytes: number): string | undefined {
  const topicProblem = topicNameProblem(topic);
  if (topicProblem) return `invalid topic "${truncate(topic)}": ${topicProblem}`;
  if (topic.startsWith('$')) {
    // Reserved topics ($aws/things/…/shadow, jobs…) belong to services this offline twin lacks.
    return `publishing to the reserved topic "${truncate(topic)}" is not allowed`;
  }
  if (payloadBytes > MAX_PAYLOAD_BYTES) {
    return `payload of ${payloadBytes} bytes exceeds the ${MAX_PAYLOAD_BYTES}-byte limit`;
  }
  return undefined;
}

export function subscribeProblem(filter: string): string | undefined {
  const problem = topicFilterProblem(filter);
  return problem ? `invalid topic filter "${truncate(filter)}": ${problem}` : undefined;
}

const truncate = (value: string) => (value.length > 80 ? `${value.slice(0, 77)}...` : value);
