/**
 * Resolves the CloudFormation form of a policy (as serverless.yml's resources hold it once the
 * Framework's own variables are resolved) into the document IoT Core receives at deploy time.
 * Only what a policy needs offline is resolved: Fn::Sub, Fn::Join and Ref to the pseudo
 * parameters of the account. Anything else is refused, naming the intrinsic and where it is.
 */
import { isPlainObject, parsePolicyDocument, PolicyDocumentError } from './document';
import type { PolicyDocument } from './document';

export interface PseudoParameters {
  partition: string;
  region: string;
  accountId: string;
}

export function resolvePolicyDocument(
  cfnDocument: unknown,
  pseudo: PseudoParameters,
): PolicyDocument {
  const document = typeof cfnDocument === 'string' ? parseJson(cfnDocument) : cfnDocument;
  return parsePolicyDocument(resolveIntrinsics(document, pseudo, 'PolicyDocument'));
}

/** Resolves every intrinsic function inside a value; `path` names the value in error messages. */
export function resolveIntrinsics(value: unknown, pseudo: PseudoParameters, path: string): unknown {
  if (Array.isArray(value)) {
    return value.map((item, index) => resolveIntrinsics(item, pseudo, `${path}[${index}]`));
  }
  if (!isPlainObject(value)) return value;
  const keys = Object.keys(value);
  const [only] = keys;
  if (keys.length === 1 && only !== undefined && (only === 'Ref' || only.startsWith('Fn::'))) {
    return resolveIntrinsic(only, value[only], pseudo, path);
  }
  return Object.fromEntries(
    keys.map((key) => [key, resolveIntrinsics(value[key], pseudo, `${path}.${key}`)]),
  );
}

function resolveIntrinsic(
  name: string,
  argument: unknown,
  pseudo: PseudoParameters,
  path: string,
): string {
  switch (name) {
    case 'Ref':
      return ref(argument, pseudo, path);
    case 'Fn::Sub':
      return sub(argument, pseudo, `${path}.Fn::Sub`);
    case 'Fn::Join':
      return join(argument, pseudo, `${path}.Fn::Join`);
    default:
      throw new PolicyDocumentError(
        `${path} uses ${name}, which the offline IoT Core cannot resolve ` +
          '(it resolves Fn::Sub, Fn::Join and Ref to AWS::Partition, AWS::Region, AWS::AccountId)',
      );
  }
}

function pseudoParameter(name: string, pseudo: PseudoParameters): string | undefined {
  switch (name) {
    case 'AWS::Partition':
      return pseudo.partition;
    case 'AWS::Region':
      return pseudo.region;
    case 'AWS::AccountId':
      return pseudo.accountId;
    default:
      return undefined;
  }
}

function ref(argument: unknown, pseudo: PseudoParameters, path: string): string {
  const value = typeof argument === 'string' ? pseudoParameter(argument, pseudo) : undefined;
  if (value === undefined) {
    throw new PolicyDocumentError(
      `${path} uses Ref to ${JSON.stringify(argument)}, which the offline IoT Core cannot resolve ` +
        '(only AWS::Partition, AWS::Region and AWS::AccountId)',
    );
  }
  return value;
}

function sub(argument: unknown, pseudo: PseudoParameters, path: string): string {
  let template: unknown = argument;
  let variables: Record<string, unknown> = {};
  if (Array.isArray(argument)) {
    const [text, map] = argument as unknown[];
    if (argument.length !== 2 || !isPlainObject(map)) {
      throw new PolicyDocumentError(`${path} must be a string or [string, {variables}]`);
    }
    template = text;
    variables = map;
  }
  if (typeof template !== 'string') {
    throw new PolicyDocumentError(`${path} must be a string or [string, {variables}]`);
  }
  return template.replace(/\$\{([^}]*)\}/g, (_match, name: string) => {
    // ${!Name} is CloudFormation's escape for a literal ${Name}.
    if (name.startsWith('!')) return `\${${name.slice(1)}}`;
    if (Object.hasOwn(variables, name)) {
      const value = resolveIntrinsics(variables[name], pseudo, `${path}[1].${name}`);
      if (typeof value !== 'string') {
        throw new PolicyDocumentError(`${path}[1].${name} must resolve to a string`);
      }
      return value;
    }
    const value = pseudoParameter(name, pseudo);
    if (value === undefined) {
      throw new PolicyDocumentError(
        `${path} references \${${name}}, which the offline IoT Core cannot resolve ` +
          '(it resolves AWS::Partition, AWS::Region, AWS::AccountId, variables given to Fn::Sub ' +
          'and ${!…} escapes)',
      );
    }
    return value;
  });
}

function join(argument: unknown, pseudo: PseudoParameters, path: string): string {
  if (!Array.isArray(argument) || argument.length !== 2 || typeof argument[0] !== 'string') {
    throw new PolicyDocumentError(`${path} must be [delimiter, [values]]`);
  }
  const delimiter: string = argument[0];
  const values = resolveIntrinsics(argument[1], pseudo, `${path}[1]`);
  if (!Array.isArray(values) || !values.every((item) => typeof item === 'string')) {
    throw new PolicyDocumentError(`${path}[1] must resolve to a list of strings`);
  }
  return values.join(delimiter);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new PolicyDocumentError(`PolicyDocument is a string but not JSON: ${String(error)}`);
  }
}
