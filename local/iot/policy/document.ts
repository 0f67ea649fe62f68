/**
 * The shape of an AWS IoT Core policy document, and the check that a document is one the offline
 * evaluator answers exactly as IoT Core would.
 */

export type IotAction =
  'iot:Connect' | 'iot:Publish' | 'iot:Subscribe' | 'iot:Receive' | 'iot:RetainPublish';

export type Effect = 'Allow' | 'Deny';

export interface PolicyStatement {
  Sid?: string;
  Effect: Effect;
  Action: string | string[];
  Resource: string | string[];
}

export interface PolicyDocument {
  Version?: string;
  Id?: string;
  Statement: PolicyStatement | PolicyStatement[];
}

/** The version in which `${…}` policy variables are substituted; in others they are literal. */
export const VARIABLES_VERSION = '2012-10-17';
const VERSIONS = new Set([VARIABLES_VERSION, '2008-10-17']);

/** A policy document that is malformed, or that the offline IoT Core cannot resolve or evaluate. */
export class PolicyDocumentError extends Error {
  override readonly name = 'PolicyDocumentError';
}

const DOCUMENT_KEYS = new Set(['Version', 'Id', 'Statement']);
const STATEMENT_KEYS = new Set(['Sid', 'Effect', 'Action', 'Resource']);
// Valid in IAM, but the offline evaluator does not implement them: refusing such a policy when it
// is loaded is better than answering differently from IoT Core when a device connects.
const UNSUPPORTED_STATEMENT_KEYS = new Set(['Condition', 'NotAction', 'NotResource']);

/** Checks a document whose intrinsics are already resolved; throws PolicyDocumentError naming the place. */
export function parsePolicyDocument(value: unknown, path = 'PolicyDocument'): PolicyDocument {
  if (!isPlainObject(value)) throw new PolicyDocumentError(`${path} must be an object`);
  for (const key of Object.keys(value)) {
    if (!DOCUMENT_KEYS.has(key)) throw new PolicyDocumentError(`${path} has unknown key "${key}"`);
  }
  const { Version, Id, Statement } = value;
  if (Version !== undefined && (typeof Version !== 'string' || !VERSIONS.has(Version))) {
    throw new PolicyDocumentError(
      `${path}.Version must be "2012-10-17" or "2008-10-17", not ${JSON.stringify(Version)}`,
    );
  }
  if (Id !== undefined && typeof Id !== 'string') {
    throw new PolicyDocumentError(`${path}.Id must be a string`);
  }
  if (Statement === undefined) throw new PolicyDocumentError(`${path} has no Statement`);
  const statements = Array.isArray(Statement)
    ? Statement.map((statement, index) => parseStatement(statement, `${path}.Statement[${index}]`))
    : [parseStatement(Statement, `${path}.Statement`)];
  return {
    ...(Version === undefined ? {} : { Version }),
    ...(Id === undefined ? {} : { Id }),
    Statement: statements,
  };
}

function parseStatement(value: unknown, path: string): PolicyStatement {
  if (!isPlainObject(value)) throw new PolicyDocumentError(`${path} must be an object`);
  for (const key of Object.keys(value)) {
    if (UNSUPPORTED_STATEMENT_KEYS.has(key)) {
      throw new PolicyDocumentError(
        `${path} uses ${key}, which the offline IoT Core does not evaluate; ` +
          'write the statement with Effect, Action and Resource only',
      );
    }
    if (!STATEMENT_KEYS.has(key)) throw new PolicyDocumentError(`${path} has unknown key "${key}"`);
  }
  const { Sid, Effect, Action, Resource } = value;
  if (Sid !== undefined && typeof Sid !== 'string') {
    throw new PolicyDocumentError(`${path}.Sid must be a string`);
  }
  if (Effect !== 'Allow' && Effect !== 'Deny') {
    throw new PolicyDocumentError(
      `${path}.Effect must be "Allow" or "Deny", not ${JSON.stringify(Effect)}`,
    );
  }
  return {
    ...(Sid === undefined ? {} : { Sid }),
    Effect,
    Action: stringOrList(Action, `${path}.Action`),
    Resource: stringOrList(Resource, `${path}.Resource`),
  };
}

function stringOrList(value: unknown, path: string): string | string[] {
  if (typeof value === 'string') return value;
  if (
    Array.isArray(value) &&
    value.length > 0 &&
    value.every((item): item is string => typeof item === 'string')
  ) {
    return [...value];
  }
  throw new PolicyDocumentError(`${path} must be a string or a non-empty list of strings`);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
