/**
 * What the offline IoT Core accepts as a policy document, and how it names what it refuses
 * ("AWS IoT Core policies": a JSON document with Version, an optional Id, and Statement, each
 * statement with an optional Sid, Effect Allow or Deny, Action and Resource as a string or a list
 * of strings; "IAM JSON policy elements"). Condition, NotAction and NotResource are valid in IAM
 * but not evaluated offline, so they are refused when the policy loads. Found by the mutation run
 * (docs/mutation.md): document.ts had half of its mutants alive.
 */
import { describe, expect, it } from '@jest/globals';

import { parsePolicyDocument, PolicyDocumentError } from '../../local/iot/policy/document';

const statement = { Effect: 'Allow', Action: 'iot:Connect', Resource: '*' };

const refusal = (document: unknown) => {
  try {
    parsePolicyDocument(document);
  } catch (error) {
    expect(error).toBeInstanceOf(PolicyDocumentError);
    expect((error as Error).name).toBe('PolicyDocumentError');
    return (error as Error).message;
  }
  throw new Error('accepted');
};

describe('parsePolicyDocument', () => {
  it('keeps Version, Id and Sid when given, and leaves them out when not', () => {
    expect(
      parsePolicyDocument({
        Version: '2012-10-17',
        Id: 'p1',
        Statement: [{ Sid: 's1', ...statement, Action: ['iot:Connect', 'iot:Publish'] }],
      }),
    ).toStrictEqual({
      Version: '2012-10-17',
      Id: 'p1',
      Statement: [
        {
          Sid: 's1',
          Effect: 'Allow',
          Action: ['iot:Connect', 'iot:Publish'],
          Resource: '*',
        },
      ],
    });
    expect(parsePolicyDocument({ Statement: { ...statement, Effect: 'Deny' } })).toStrictEqual({
      Statement: [{ Effect: 'Deny', Action: 'iot:Connect', Resource: '*' }],
    });
    expect(parsePolicyDocument({ Version: '2008-10-17', Statement: [statement] })).toStrictEqual({
      Version: '2008-10-17',
      Statement: [statement],
    });
  });

  it.each([
    [null, 'PolicyDocument must be an object'],
    [[statement], 'PolicyDocument must be an object'],
    [{ Statement: [statement], Extra: 1 }, 'PolicyDocument has unknown key "Extra"'],
    [
      { Version: '2020-01-01', Statement: [statement] },
      'PolicyDocument.Version must be "2012-10-17" or "2008-10-17", not "2020-01-01"',
    ],
    [
      { Version: 2012, Statement: [statement] },
      'PolicyDocument.Version must be "2012-10-17" or "2008-10-17", not 2012',
    ],
    [{ Id: 5, Statement: [statement] }, 'PolicyDocument.Id must be a string'],
    [{ Version: '2012-10-17' }, 'PolicyDocument has no Statement'],
    [{ Statement: ['x'] }, 'PolicyDocument.Statement[0] must be an object'],
    [{ Statement: 'x' }, 'PolicyDocument.Statement must be an object'],
    [
      { Statement: [statement, { ...statement, Condition: {} }] },
      'PolicyDocument.Statement[1] uses Condition, which the offline IoT Core does not evaluate; write the statement with Effect, Action and Resource only',
    ],
    [
      { Statement: { ...statement, NotResource: 'x' } },
      'PolicyDocument.Statement uses NotResource, which the offline IoT Core does not evaluate; write the statement with Effect, Action and Resource only',
    ],
    [
      { Statement: [{ ...statement, Other: 1 }] },
      'PolicyDocument.Statement[0] has unknown key "Other"',
    ],
    [{ Statement: [{ ...statement, Sid: 1 }] }, 'PolicyDocument.Statement[0].Sid must be a string'],
    [
      { Statement: [{ ...statement, Effect: 'allow' }] },
      'PolicyDocument.Statement[0].Effect must be "Allow" or "Deny", not "allow"',
    ],
    [
      { Statement: [{ ...statement, Action: [] }] },
      'PolicyDocument.Statement[0].Action must be a string or a non-empty list of strings',
    ],
    [
      { Statement: [{ ...statement, Action: ['iot:Connect', 5] }] },
      'PolicyDocument.Statement[0].Action must be a string or a non-empty list of strings',
    ],
    [
      { Statement: [{ ...statement, Resource: undefined }] },
      'PolicyDocument.Statement[0].Resource must be a string or a non-empty list of strings',
    ],
  ])('refuses %j: %s', (document, message) => {
    expect(refusal(document)).toBe(message);
  });
});
