/**
 * MQTT 5 as AWS IoT Core speaks it: the limits it advertises and enforces, the reason codes it
 * answers with, and the message properties it passes through to subscribers and to the rules.
 *
 * Sources: AWS IoT Core Developer Guide, "MQTT" → "MQTT 5 supported features", "MQTT 5
 * properties", "MQTT reason codes" and "AWS IoT differences from MQTT specifications"; AWS
 * General Reference, "AWS IoT Core endpoints and quotas" → "AWS IoT Core message broker and
 * protocol limits and quotas".
 */

/** "Topic Alias Maximum": IoT Core accepts up to 8 topic aliases from a client per connection. */
export const TOPIC_ALIAS_MAXIMUM = 8;
/** "Receive Maximum": at most 100 unacknowledged QoS 1 messages in flight per connection. */
export const RECEIVE_MAXIMUM = 100;
/** "Maximum packet size": 146 KB, the 128 KB payload plus topic, properties and headers. */
export const MAXIMUM_PACKET_SIZE = 146 * 1024;
/**
 * "Persistent session expiry period": 1 hour by default (an account may raise it to 7 days);
 * a longer Session Expiry Interval asked for in CONNECT is cut to this.
 */
export const SESSION_EXPIRY_LIMIT_SECONDS = 60 * 60;
/** "Message expiry interval": at most 7 days; a longer one is cut to this. */
export const MESSAGE_EXPIRY_LIMIT_SECONDS = 7 * 24 * 60 * 60;
/** Sessions kept for clients that went away, at most (the broker's guard against id cycling). */
export const PENDING_SESSIONS_LIMIT = 10_000;

/** The reason codes the offline broker sends (MQTT 5.0 §2.4; IoT Core's "MQTT reason codes"). */
export const REASON = {
  NOT_AUTHORIZED: 0x87,
  CLIENT_IDENTIFIER_NOT_VALID: 0x85,
  SERVER_SHUTTING_DOWN: 0x8b,
  QOS_NOT_SUPPORTED: 0x9b,
} as const;

/**
 * The MQTT 5 properties of a PUBLISH that travel with the message: to subscribers (the broker
 * forwards them unchanged) and to the rules engine, where IoT Core's rule SQL reads them with
 * get_user_property(), get_mqtt_property() (content_type, format_indicator, response_topic,
 * correlation_data). Absent for MQTT 3.1.1 and HTTPS messages.
 */
export interface MessageProperties {
  /** Name → value; a name sent several times has every value, in order. */
  userProperties?: Record<string, string | string[]>;
  contentType?: string;
  /** true: the payload is UTF-8 text (Payload Format Indicator 1). */
  payloadFormatIndicator?: boolean;
  responseTopic?: string;
  correlationData?: Buffer;
  /** Seconds, as the publisher set it (already cut to IoT Core's limit). */
  messageExpiryInterval?: number;
}

/** The properties of a decoded PUBLISH worth passing on, or undefined when there are none. */
export function messagePropertiesOf(properties: unknown): MessageProperties | undefined {
  if (!properties || typeof properties !== 'object') return undefined;
  const source = properties as Record<string, unknown>;
  const picked: MessageProperties = {};
  if (source.userProperties && typeof source.userProperties === 'object')
    picked.userProperties = source.userProperties as Record<string, string | string[]>;
  if (typeof source.contentType === 'string') picked.contentType = source.contentType;
  if (typeof source.payloadFormatIndicator === 'boolean')
    picked.payloadFormatIndicator = source.payloadFormatIndicator;
  if (typeof source.responseTopic === 'string') picked.responseTopic = source.responseTopic;
  if (Buffer.isBuffer(source.correlationData))
    picked.correlationData = Buffer.from(source.correlationData);
  if (typeof source.messageExpiryInterval === 'number')
    picked.messageExpiryInterval = source.messageExpiryInterval;
  return Object.keys(picked).length > 0 ? picked : undefined;
}
