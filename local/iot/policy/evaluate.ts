/**
 * AWS IoT Core's policy evaluation for the data-plane actions of a device: default deny, an
 * explicit Deny wins over any Allow, IAM wildcards (`*`, `?`) in Action and Resource, and policy
 * variables substituted in Resource. MQTT's `+` and `#` are ordinary characters here, as in IoT
 * Core: `topicfilter/devices/+/x` allows subscribing to exactly the filter `devices/+/x`.
 *
 * Evaluation never throws: a document that cannot be evaluated is refused when it is loaded.
 */
import { VARIABLES_VERSION } from './document';
import type { IotAction, PolicyDocument, PolicyStatement } from './document';
import { resourcePattern, wildcardMatch, wildcardPattern } from './pattern';

export interface PolicyContext {
  region: string;
  accountId: string;
  /** 'aws' unless given. */
  partition?: string;
  /** The registry thing attached to the certificate; undefined when none is. */
  thingName?: string;
  /** The MQTT client id; undefined over HTTPS, where IoT Core has none. */
  clientId?: string;
  /** IoT Core's certificate id (SHA-256 of the DER, hex). */
  certificateId?: string;
  /** The subject common name of the client certificate (`${iot:Certificate.Subject.CommonName}`). */
  certificateCommonName?: string;
}

export interface Decision {
  allowed: boolean;
  reason: string;
}

/** A policy document with the name it is attached by (IoT Core's policy name). */
export interface NamedPolicyDocument {
  name: string;
  document: PolicyDocument;
}

/** The ARN IoT Core checks for an action: client/…, topic/… or topicfilter/…. */
export function resourceArn(
  action: IotAction,
  target: string,
  ctx: Pick<PolicyContext, 'partition' | 'region' | 'accountId'>,
): string {
  const type =
    action === 'iot:Connect' ? 'client' : action === 'iot:Subscribe' ? 'topicfilter' : 'topic';
  return `arn:${ctx.partition ?? 'aws'}:iot:${ctx.region}:${ctx.accountId}:${type}/${target}`;
}

/** Whether one policy allows `action` on `target` (a client id, topic or topic filter). */
export function evaluate(
  document: PolicyDocument,
  action: IotAction,
  target: string,
  ctx: PolicyContext,
): Decision {
  return evaluateDocuments([{ name: undefined, document }], action, target, ctx);
}

/**
 * Whether the policies attached to a certificate, together, allow the action: as in IoT Core, an
 * Allow in any of them is enough unless a Deny in any of them matches.
 */
export function evaluatePolicies(
  policies: readonly NamedPolicyDocument[],
  action: IotAction,
  target: string,
  ctx: PolicyContext,
): Decision {
  return evaluateDocuments(policies, action, target, ctx);
}

function evaluateDocuments(
  policies: readonly { name: string | undefined; document: PolicyDocument }[],
  action: IotAction,
  target: string,
  ctx: PolicyContext,
): Decision {
  const arn = resourceArn(action, target, ctx);
  const request = `${action} on ${arn}`;
  let allowedBy: string | undefined;
  const skipped: string[] = [];
  for (const { name, document } of policies) {
    const variables = document.Version === VARIABLES_VERSION ? variablesOf(ctx) : undefined;
    const statements = listOf(document.Statement);
    for (const [index, statement] of statements.entries()) {
      if (!listOf(statement.Action).some((pattern) => actionMatches(pattern, action))) continue;
      const label = statementLabel(statement, index, name);
      const { matched, missing } = resourceMatches(listOf(statement.Resource), arn, variables);
      if (!matched) {
        if (missing.length > 0) skipped.push(`${label} was skipped: ${missing.join(', ')}`);
        continue;
      }
      if (statement.Effect === 'Deny') {
        return { allowed: false, reason: `denied: ${label} explicitly denies ${request}` };
      }
      allowedBy ??= label;
    }
  }
  if (allowedBy !== undefined) {
    return { allowed: true, reason: `allowed: ${allowedBy} allows ${request}` };
  }
  const note = skipped.length > 0 ? ` (${skipped.join('; ')})` : '';
  return { allowed: false, reason: `denied: no statement allows ${request}${note}` };
}

const KNOWN_VARIABLES = {
  'iot:clientid': (ctx: PolicyContext) => ctx.clientId,
  'iot:connection.thing.thingname': (ctx: PolicyContext) => ctx.thingName,
  'iot:connection.thing.isattached': (ctx: PolicyContext) =>
    ctx.thingName === undefined ? 'false' : 'true',
  'iot:certificateid': (ctx: PolicyContext) => ctx.certificateId,
  'iot:certificate.subject.commonname': (ctx: PolicyContext) => ctx.certificateCommonName,
} as const satisfies Record<string, (ctx: PolicyContext) => string | undefined>;

/**
 * The policy variables of this connection, by lower-cased name (IAM context keys are
 * case-insensitive). Undefined for a variable with no value, or one the offline IoT Core does
 * not know.
 */
function variablesOf(ctx: PolicyContext): (name: string) => string | undefined {
  return (name) => {
    const key = name.toLowerCase();
    return Object.hasOwn(KNOWN_VARIABLES, key)
      ? KNOWN_VARIABLES[key as keyof typeof KNOWN_VARIABLES](ctx)
      : undefined;
  };
}

function whyUnresolved(name: string): string {
  const key = name.toLowerCase();
  if (!Object.hasOwn(KNOWN_VARIABLES, key)) {
    return `\${${name}} is not a policy variable the offline IoT Core resolves`;
  }
  if (key.startsWith('iot:connection.thing.'))
    return `\${${name}} has no value: no thing is attached`;
  return `\${${name}} has no value for this connection`;
}

function actionMatches(pattern: string, action: IotAction): boolean {
  return wildcardMatch(wildcardPattern(pattern.toLowerCase()), action.toLowerCase());
}

/**
 * Whether any Resource entry matches. An entry with a variable that does not resolve matches
 * nothing, as in IAM; `missing` says why, for the reason of a denial.
 */
function resourceMatches(
  resources: readonly string[],
  arn: string,
  variables: ((name: string) => string | undefined) | undefined,
): { matched: boolean; missing: string[] } {
  const missing: string[] = [];
  for (const resource of resources) {
    if (variables === undefined) {
      if (wildcardMatch(wildcardPattern(resource), arn)) return { matched: true, missing: [] };
      continue;
    }
    const compiled = resourcePattern(resource, variables);
    if ('unresolved' in compiled) {
      missing.push(whyUnresolved(compiled.unresolved));
    } else if (wildcardMatch(compiled.pattern, arn)) {
      return { matched: true, missing: [] };
    }
  }
  return { matched: false, missing };
}

function statementLabel(statement: PolicyStatement, index: number, policy: string | undefined) {
  const which = statement.Sid ? `statement "${statement.Sid}"` : `Statement[${index}]`;
  return policy === undefined ? which : `${which} of policy "${policy}"`;
}

function listOf<T>(value: T | readonly T[]): readonly T[] {
  return Array.isArray(value) ? (value as readonly T[]) : [value as T];
}
