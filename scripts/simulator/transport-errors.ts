/** Turns the errors of sockets, TLS and MQTT into what a person can act on. */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);

const SERVER_NOT_TRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

export function describeTransportError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as NodeJS.ErrnoException).code;
  const message = error.message;
  if (typeof code === 'string' && SERVER_NOT_TRUSTED.has(code)) {
    return `the endpoint's certificate is not trusted by the device's root CA (${message})`;
  }
  // The server's TLS alert when it does not accept the client certificate (unknown CA, none…).
  if (/alert|certificate required|bad certificate/i.test(message)) {
    return `the endpoint refused the device certificate (${message})`;
  }
  if (typeof code === 'string' && UNREACHABLE.has(code)) {
    return `the endpoint is unreachable (${message})`;
  }
  // MQTT CONNACK refusals carry a numeric reason code, e.g. 5 "Not authorized".
  if (typeof code === 'number') return `the broker refused the connection (${message})`;
  return message;
}
