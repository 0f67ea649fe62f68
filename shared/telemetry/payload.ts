/**
 * What a device published, as the WebSocket clients receive it. Devices may publish anything
 * (AWS IoT does not specify the payload, "MQTT message payload" in the developer guide): the
 * topic rule hands the raw bytes over base64-encoded and they are sorted here into one of five
 * kinds, so that a JSON object still arrives as `data` and nothing else is lost.
 */

/**
 * JSON nested deeper than this is not unpacked: it arrives as text. Real readings are a few
 * levels deep, and a frame holding thousands of levels would overflow the stack of whoever
 * serializes or walks it (this function's JSON.stringify, a client's renderer).
 */
export const MAX_JSON_DEPTH = 64;

export type TelemetryPayload =
  /** A JSON object: the reading, as before. */
  | { kind: 'object'; data: Record<string, unknown> }
  /** Any other JSON value: array, number, string, boolean or null. */
  | { kind: 'json'; value: unknown }
  /** UTF-8 text that is not JSON (or JSON nested deeper than MAX_JSON_DEPTH). */
  | { kind: 'text'; text: string }
  /** Bytes that are not UTF-8 text. */
  | { kind: 'binary'; base64: string }
  | { kind: 'empty' };

const utf8 = new TextDecoder('utf-8', { fatal: true });
// C0 controls other than tab, line feed and carriage return (and DEL) mark bytes, not text.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTER = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

export function classifyPayload(bytes: Uint8Array): TelemetryPayload {
  if (bytes.length === 0) return { kind: 'empty' };
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { kind: 'binary', base64: Buffer.from(bytes).toString('base64') };
  }
  if (CONTROL_CHARACTER.test(text)) {
    return { kind: 'binary', base64: Buffer.from(bytes).toString('base64') };
  }
  if (jsonDepth(text) > MAX_JSON_DEPTH) return { kind: 'text', text };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { kind: 'text', text };
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    return { kind: 'object', data: value as Record<string, unknown> };
  }
  return { kind: 'json', value };
}

/**
 * The deepest nesting of [ and { in a text, skipping strings: an upper bound of the depth of the
 * JSON it may hold, found without parsing (no recursion, no allocation).
 */
export function jsonDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const char = text.charCodeAt(i);
    if (inString) {
      if (char === 0x5c)
        i++; // backslash: skip the escaped character
      else if (char === 0x22) inString = false;
    } else if (char === 0x22) {
      inString = true;
    } else if (char === 0x5b || char === 0x7b) {
      depth++;
      if (depth > deepest) deepest = depth;
    } else if (char === 0x5d || char === 0x7d) {
      depth--;
    }
  }
  return deepest;
}
