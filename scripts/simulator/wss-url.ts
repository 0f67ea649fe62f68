/**
 * The URL an IAM principal connects MQTT over WebSocket with: `wss://host:port/mqtt` signed with
 * SigV4 in the query string for the service `iotdevicegateway`, as AWS IoT Core Developer Guide,
 * "MQTT over WebSocket protocol" → "Sign requests with Signature Version 4" describes (the session
 * token, when there is one, is appended after signing). Synchronous, so that mqtt.js can sign
 * afresh on every reconnect (its transformWsUrl option).
 */
import { createHash, createHmac } from 'node:crypto';

export interface WebSocketSigning {
  host: string;
  port: number;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  now?: Date;
}

export const IOT_WEBSOCKET_SERVICE = 'iotdevicegateway';

export function presignedMqttUrl({
  host,
  port,
  region,
  credentials,
  now = new Date(),
}: WebSocketSigning): string {
  const amzDate = now
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
  const date = amzDate.slice(0, 8);
  const scope = `${date}/${region}/${IOT_WEBSOCKET_SERVICE}/aws4_request`;
  const hostHeader = port === 443 ? host : `${host}:${port}`;
  const query = [
    'X-Amz-Algorithm=AWS4-HMAC-SHA256',
    `X-Amz-Credential=${encodeURIComponent(`${credentials.accessKeyId}/${scope}`)}`,
    `X-Amz-Date=${amzDate}`,
    'X-Amz-SignedHeaders=host',
  ].join('&');
  const canonicalRequest = [
    'GET',
    '/mqtt',
    query,
    `host:${hostHeader}\n`,
    'host',
    createHash('sha256').update('').digest('hex'),
  ].join('\n');
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    amzDate,
    scope,
    createHash('sha256').update(canonicalRequest).digest('hex'),
  ].join('\n');
  let key: Buffer = createHmac('sha256', `AWS4${credentials.secretAccessKey}`)
    .update(date)
    .digest();
  for (const part of [region, IOT_WEBSOCKET_SERVICE, 'aws4_request'])
    key = createHmac('sha256', key).update(part).digest();
  const signature = createHmac('sha256', key).update(stringToSign).digest('hex');
  const token = credentials.sessionToken
    ? `&X-Amz-Security-Token=${encodeURIComponent(credentials.sessionToken)}`
    : '';
  return `wss://${hostHeader}/mqtt?${query}&X-Amz-Signature=${signature}${token}`;
}
