/**
 * Verifies AWS Signature Version 4 on a request to an offline endpoint, as AWS does before it
 * looks at anything else: the signature is recomputed with the SDK's own signer
 * (@smithy/signature-v4) from the request as received and the credentials the offline cloud
 * hands its Lambdas, and compared. Header-signed requests only (what the SDK clients send);
 * presigned URLs are not accepted.
 *
 * AWS documents the rules this follows in "Elements of an AWS API request signature" and
 * "Create a signed AWS API request" (IAM User Guide), and the failures in each API's "Common
 * Errors" page (IncompleteSignature, InvalidClientTokenId, RequestExpired: "more than 15 minutes
 * after the date stamp on the request … or more than 15 minutes in the future").
 */
import { createHash, createHmac, timingSafeEqual, type BinaryLike } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { SignatureV4 } from '@smithy/signature-v4';

export interface SigV4Request {
  method: string;
  /** The path exactly as it came on the wire, percent-encoding intact (the SDK signs it so). */
  path: string;
  /** Decoded query parameters; a repeated parameter is an array. */
  query: Record<string, string | string[]>;
  /** Header names in lower case, as Node's IncomingMessage has them. */
  headers: Record<string, string | string[] | undefined>;
  body: Uint8Array | string;
}

/** A Node request and its body as the verifier reads them: path undecoded, query decoded. */
export function sigV4RequestOf(
  request: IncomingMessage,
  body: Buffer,
  defaultMethod = 'GET',
): SigV4Request {
  const target = request.url ?? '/';
  const queryAt = target.indexOf('?');
  const query: Record<string, string | string[]> = {};
  if (queryAt >= 0) {
    for (const [name, value] of new URLSearchParams(target.slice(queryAt + 1))) {
      const seen = query[name];
      query[name] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
    }
  }
  return {
    method: request.method ?? defaultMethod,
    // Undecoded: the signer escapes the path as the SDK did when it signed.
    path: queryAt >= 0 ? target.slice(0, queryAt) : target,
    query,
    headers: request.headers,
    body,
  };
}

export interface SigV4Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface SigV4Options {
  /** The signing name, e.g. `iotdata` for the IoT data plane, `execute-api` for @connections. */
  service: string;
  region: string;
  now?: Date;
}

/** AWS's names for the ways a signature fails; every one of them is answered with 403. */
export type SigV4Failure =
  | 'MissingAuthenticationToken'
  | 'IncompleteSignature'
  | 'InvalidClientTokenId'
  | 'RequestExpired'
  | 'SignatureDoesNotMatch';

export type SigV4Result =
  { ok: true; accessKeyId: string } | { ok: false; code: SigV4Failure; reason: string };

/** How far the request's date may be from the receiver's clock, either way. */
export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;

const ALGORITHM = 'AWS4-HMAC-SHA256';
const SIGNATURE_MISMATCH =
  'The request signature we calculated does not match the signature you provided. ' +
  'Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

export async function verifySigV4(
  request: SigV4Request,
  credentials: SigV4Credentials,
  options: SigV4Options,
): Promise<SigV4Result> {
  const now = options.now ?? new Date();
  const authorization = request.headers.authorization;
  if (authorization === undefined)
    return fail('MissingAuthenticationToken', 'Missing Authentication Token');
  const parsed = parseAuthorization(Array.isArray(authorization) ? '' : authorization);
  if (typeof parsed === 'string') return fail('IncompleteSignature', parsed);

  if (parsed.accessKeyId !== credentials.accessKeyId) {
    return fail('InvalidClientTokenId', 'The security token included in the request is invalid.');
  }
  if (
    credentials.sessionToken !== undefined &&
    request.headers['x-amz-security-token'] !== credentials.sessionToken
  ) {
    return fail('InvalidClientTokenId', 'The security token included in the request is invalid.');
  }

  const amzDate = request.headers['x-amz-date'];
  const signingDate = typeof amzDate === 'string' ? parseAmzDate(amzDate) : undefined;
  if (!signingDate || typeof amzDate !== 'string') {
    return fail('IncompleteSignature', 'The request must carry a valid X-Amz-Date header');
  }
  for (const required of ['host', 'x-amz-date']) {
    if (!parsed.signedHeaders.includes(required)) {
      return fail('IncompleteSignature', `The ${required} header must be a signed header`);
    }
  }
  const skew = signingDate.getTime() - now.getTime();
  if (skew < -MAX_CLOCK_SKEW_MS) {
    return fail(
      'RequestExpired',
      `Signature expired: ${amzDate} is now earlier than ${formatAmzDate(new Date(now.getTime() - MAX_CLOCK_SKEW_MS))} ` +
        `(${formatAmzDate(now)} - 15 min.)`,
    );
  }
  if (skew > MAX_CLOCK_SKEW_MS) {
    return fail(
      'RequestExpired',
      `Signature not yet current: ${amzDate} is still later than ${formatAmzDate(new Date(now.getTime() + MAX_CLOCK_SKEW_MS))} ` +
        `(${formatAmzDate(now)} + 15 min.)`,
    );
  }

  const scopeProblem = credentialScopeProblem(parsed.scope, amzDate.slice(0, 8), options);
  if (scopeProblem) return fail('SignatureDoesNotMatch', scopeProblem);

  const signedHeaders: Record<string, string> = {};
  for (const name of parsed.signedHeaders) {
    const value = request.headers[name];
    if (value === undefined) {
      return fail('SignatureDoesNotMatch', `The signed header "${name}" is not in the request`);
    }
    signedHeaders[name] = Array.isArray(value) ? value.join(',') : value;
  }
  // The payload's hash is always that of the body received: a signed x-amz-content-sha256 that
  // claims another one (or UNSIGNED-PAYLOAD) does not describe this request.
  const bodyHash = createHash('sha256').update(request.body).digest('hex');
  const claimedHash = signedHeaders['x-amz-content-sha256'];
  if (claimedHash !== undefined && claimedHash !== bodyHash) {
    return fail(
      'SignatureDoesNotMatch',
      "The provided 'x-amz-content-sha256' header does not match what was computed.",
    );
  }

  const signer = new SignatureV4({
    credentials,
    region: options.region,
    service: options.service,
    sha256: NodeSha256,
    applyChecksum: false,
  });
  const expected = await signer.sign(
    {
      method: request.method.toUpperCase(),
      protocol: 'https:',
      hostname: signedHeaders.host ?? '',
      path: request.path,
      query: request.query,
      headers: signedHeaders,
      body: request.body,
    },
    { signingDate, signableHeaders: new Set(parsed.signedHeaders) },
  );
  const recomputed = parseAuthorization(String(expected.headers.authorization));
  const matches =
    typeof recomputed !== 'string' &&
    recomputed.signedHeaders.join(';') === parsed.signedHeaders.join(';') &&
    equalHex(recomputed.signature, parsed.signature);
  return matches
    ? { ok: true, accessKeyId: parsed.accessKeyId }
    : fail('SignatureDoesNotMatch', SIGNATURE_MISMATCH);
}

interface ParsedAuthorization {
  accessKeyId: string;
  /** date/region/service/aws4_request */
  scope: string[];
  signedHeaders: string[];
  signature: string;
}

/** `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`, or why it is not. */
function parseAuthorization(header: string): ParsedAuthorization | string {
  const [algorithm, ...rest] = header.trim().split(/\s+/);
  if (algorithm !== ALGORITHM) {
    return `Unsupported authorization: expected ${ALGORITHM} with Credential, SignedHeaders and Signature`;
  }
  const fields = new Map<string, string>();
  for (const part of rest.join('').split(',')) {
    const at = part.indexOf('=');
    if (at > 0) fields.set(part.slice(0, at).trim(), part.slice(at + 1).trim());
  }
  const missing = ['Credential', 'SignedHeaders', 'Signature'].filter((name) => !fields.get(name));
  if (missing.length > 0) {
    return missing.map((name) => `Authorization header requires '${name}' parameter.`).join(' ');
  }
  const [accessKeyId, ...scope] = (fields.get('Credential') as string).split('/');
  if (!accessKeyId || scope.length !== 4) {
    return 'Credential must have the form <access key>/<date>/<region>/<service>/aws4_request';
  }
  return {
    accessKeyId,
    scope,
    signedHeaders: (fields.get('SignedHeaders') as string).toLowerCase().split(';'),
    signature: fields.get('Signature') as string,
  };
}

function credentialScopeProblem(
  [date, region, service, terminator]: string[],
  requestDate: string,
  options: SigV4Options,
): string | undefined {
  if (date !== requestDate) {
    return `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${date}' != '${requestDate}'`;
  }
  if (region !== options.region) {
    return `Credential should be scoped to a valid region, not '${region}'.`;
  }
  if (service !== options.service) {
    return `Credential should be scoped to correct service: '${options.service}'.`;
  }
  if (terminator !== 'aws4_request') {
    return `Credential should be scoped with a valid terminator: 'aws4_request', not '${terminator}'.`;
  }
  return undefined;
}

/** `20261202T073120Z` → a Date, or undefined when it is not one. */
function parseAmzDate(value: string): Date | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!match) return undefined;
  const [, year, month, day, hour, minute, second] = match;
  const date = new Date(`${year}-${month}-${day}T${hour}:${minute}:${second}Z`);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

const formatAmzDate = (date: Date) =>
  date
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');

function equalHex(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}

const fail = (code: SigV4Failure, reason: string): SigV4Result => ({ ok: false, code, reason });

/** The signer's hash (and HMAC, when given a key) on node:crypto. */
class NodeSha256 {
  private readonly key: BinaryLike | undefined;
  private chunks: Uint8Array[] = [];

  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.key = secret === undefined ? undefined : toBinary(secret);
  }

  update(chunk: Uint8Array): void {
    this.chunks.push(chunk);
  }

  async digest(): Promise<Uint8Array> {
    const hash = this.key ? createHmac('sha256', this.key) : createHash('sha256');
    for (const chunk of this.chunks) hash.update(chunk);
    return new Uint8Array(hash.digest());
  }

  reset(): void {
    this.chunks = [];
  }
}

function toBinary(data: string | ArrayBuffer | ArrayBufferView): BinaryLike {
  if (typeof data === 'string') return data;
  if (ArrayBuffer.isView(data))
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}

/**
 * A presigned URL (query-string SigV4), as IoT Core takes it for MQTT over WebSocket
 * (`wss://…/mqtt?X-Amz-Algorithm=…&X-Amz-Credential=…&X-Amz-Date=…&X-Amz-SignedHeaders=host
 * &X-Amz-Signature=…`; AWS IoT Core Developer Guide, "MQTT over WebSocket protocol" → "Sign
 * requests with Signature Version 4"; IAM User Guide, "Create a signed AWS API request",
 * query-string authentication). Both forms in use are accepted: the AWS SDK's presigner signs
 * X-Amz-Expires and X-Amz-Security-Token; IoT's WebSocket signing signs neither and appends the
 * session token after signing. The canonical request is built here (GET, the path, every query
 * parameter but the signature, the signed headers, the empty payload's hash).
 */
export function verifyPresignedSigV4(
  request: Pick<SigV4Request, 'method' | 'path' | 'headers'> & { rawQuery: string },
  credentials: SigV4Credentials,
  options: SigV4Options,
): SigV4Result {
  const now = options.now ?? new Date();
  const pairs = request.rawQuery
    .split('&')
    .filter((part) => part.length > 0)
    .map((part) => {
      const at = part.indexOf('=');
      const [name, value] = at < 0 ? [part, ''] : [part.slice(0, at), part.slice(at + 1)];
      return [safeDecode(name), safeDecode(value)] as const;
    });
  const param = (name: string) => pairs.find(([key]) => key === name)?.[1];
  if (param('X-Amz-Signature') === undefined && param('X-Amz-Credential') === undefined)
    return fail('MissingAuthenticationToken', 'Missing Authentication Token');
  const missing = ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-SignedHeaders']
    .concat('X-Amz-Signature')
    .filter((name) => !param(name));
  if (missing.length > 0)
    return fail('IncompleteSignature', `The query string must carry ${missing.join(', ')}`);
  if (param('X-Amz-Algorithm') !== ALGORITHM)
    return fail('IncompleteSignature', `X-Amz-Algorithm must be ${ALGORITHM}`);
  const [accessKeyId, ...scope] = (param('X-Amz-Credential') as string).split('/');
  if (!accessKeyId || scope.length !== 4)
    return fail(
      'IncompleteSignature',
      'X-Amz-Credential must have the form <access key>/<date>/<region>/<service>/aws4_request',
    );
  if (accessKeyId !== credentials.accessKeyId)
    return fail('InvalidClientTokenId', 'The security token included in the request is invalid.');
  const token = param('X-Amz-Security-Token');
  if (credentials.sessionToken !== undefined && token !== credentials.sessionToken)
    return fail('InvalidClientTokenId', 'The security token included in the request is invalid.');

  const amzDate = param('X-Amz-Date') as string;
  const signingDate = parseAmzDate(amzDate);
  if (!signingDate) return fail('IncompleteSignature', 'X-Amz-Date is not a valid date');
  const expires = param('X-Amz-Expires');
  const lifetimeMs = expires === undefined ? MAX_CLOCK_SKEW_MS : Number(expires) * 1000;
  if (!Number.isInteger(lifetimeMs) || lifetimeMs < 0 || lifetimeMs > 7 * 24 * 3600 * 1000)
    return fail('IncompleteSignature', 'X-Amz-Expires must be 0 to 604800 seconds');
  const age = now.getTime() - signingDate.getTime();
  if (age > lifetimeMs) return fail('RequestExpired', `Signature expired: ${amzDate}`);
  if (age < -MAX_CLOCK_SKEW_MS)
    return fail('RequestExpired', `Signature not yet current: ${amzDate}`);
  const scopeProblem = credentialScopeProblem(scope, amzDate.slice(0, 8), options);
  if (scopeProblem) return fail('SignatureDoesNotMatch', scopeProblem);

  const signedHeaders = (param('X-Amz-SignedHeaders') as string).toLowerCase().split(';');
  if (!signedHeaders.includes('host'))
    return fail('IncompleteSignature', 'The host header must be a signed header');
  const headerLines: string[] = [];
  for (const name of signedHeaders) {
    const value = request.headers[name];
    if (value === undefined)
      return fail('SignatureDoesNotMatch', `The signed header "${name}" is not in the request`);
    const text = Array.isArray(value) ? value.join(',') : value;
    headerLines.push(`${name}:${text.trim().replace(/\s+/g, ' ')}\n`);
  }
  const key = signingKey(credentials.secretAccessKey, scope);
  const signatureOver = (withToken: boolean) => {
    const query = pairs
      .filter(([name]) => name !== 'X-Amz-Signature')
      .filter(([name]) => withToken || name !== 'X-Amz-Security-Token')
      .map(([name, value]) => [uriEncode(name), uriEncode(value)] as const)
      .sort(([a, x], [b, y]) => (a === b ? compare(x, y) : compare(a, b)))
      .map(([name, value]) => `${name}=${value}`)
      .join('&');
    const canonical = [
      request.method.toUpperCase(),
      request.path,
      query,
      headerLines.join(''),
      signedHeaders.join(';'),
      createHash('sha256').update('').digest('hex'),
    ].join('\n');
    const toSign = [
      ALGORITHM,
      amzDate,
      scope.join('/'),
      createHash('sha256').update(canonical).digest('hex'),
    ].join('\n');
    return createHmac('sha256', key).update(toSign).digest('hex');
  };
  const given = param('X-Amz-Signature') as string;
  const matches =
    equalHex(signatureOver(true), given) ||
    (token !== undefined && equalHex(signatureOver(false), given));
  return matches ? { ok: true, accessKeyId } : fail('SignatureDoesNotMatch', SIGNATURE_MISMATCH);
}

function signingKey(secret: string, [date, region, service, terminator]: string[]): Buffer {
  let key = createHmac('sha256', `AWS4${secret}`)
    .update(date ?? '')
    .digest();
  for (const part of [region, service, terminator])
    key = createHmac('sha256', key)
      .update(part ?? '')
      .digest();
  return key;
}

/** SigV4's URI encoding: every byte but A-Z a-z 0-9 - _ . ~ percent-encoded, upper-case hex. */
const uriEncode = (value: string) =>
  encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, '%20'));
  } catch {
    return value;
  }
}
