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
