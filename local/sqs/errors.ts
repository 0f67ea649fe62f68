/**
 * SQS's errors as the JSON protocol carries them ("Interpreting Amazon SQS JSON API responses",
 * Amazon SQS Developer Guide): the HTTP status, `x-amzn-query-error: <query code>;Sender` (the
 * code the SDK's exception takes) and `{"__type": "com.amazonaws.sqs#<Name>", "message"}`. The
 * names, codes and statuses are those of each action's "Errors" section in the Amazon SQS API
 * Reference (and of the SDK's model of them); the common ones are its "Common Errors" page.
 */

/** Name → [query-compatible code, HTTP status]. */
const ERRORS = {
  QueueDoesNotExist: ['AWS.SimpleQueueService.NonExistentQueue', 400],
  InvalidParameterValue: ['InvalidParameterValue', 400],
  MissingParameter: ['MissingParameter', 400],
  InvalidAttributeName: ['InvalidAttributeName', 400],
  InvalidMessageContents: ['InvalidMessageContents', 400],
  ReceiptHandleIsInvalid: ['ReceiptHandleIsInvalid', 404],
  MessageNotInflight: ['AWS.SimpleQueueService.MessageNotInflight', 400],
  PurgeQueueInProgress: ['AWS.SimpleQueueService.PurgeQueueInProgress', 403],
  EmptyBatchRequest: ['AWS.SimpleQueueService.EmptyBatchRequest', 400],
  TooManyEntriesInBatchRequest: ['AWS.SimpleQueueService.TooManyEntriesInBatchRequest', 400],
  BatchEntryIdsNotDistinct: ['AWS.SimpleQueueService.BatchEntryIdsNotDistinct', 400],
  InvalidBatchEntryId: ['AWS.SimpleQueueService.InvalidBatchEntryId', 400],
  BatchRequestTooLong: ['AWS.SimpleQueueService.BatchRequestTooLong', 400],
  UnsupportedOperation: ['AWS.SimpleQueueService.UnsupportedOperation', 400],
  ResourceNotFoundException: ['ResourceNotFoundException', 404],
  /** A request body past what any SQS request can hold. */
  RequestEntityTooLarge: ['RequestEntityTooLarge', 413],
  /** An X-Amz-Target that names no SQS operation (the JSON protocol's UnknownOperationException). */
  UnknownOperationException: ['InvalidAction', 400],
  /** A body that is not a JSON object. */
  SerializationException: ['MalformedQueryString', 400],
  InternalFailure: ['InternalFailure', 500],
} as const satisfies Record<string, readonly [string, number]>;

export type SqsErrorName = keyof typeof ERRORS;

export class SqsError extends Error {
  override readonly name = 'SqsError';
  constructor(
    readonly code: SqsErrorName,
    message: string,
  ) {
    super(message);
  }

  get queryCode(): string {
    return ERRORS[this.code][0];
  }

  get status(): number {
    return ERRORS[this.code][1];
  }

  /** Whether the sender is to blame (the `;Sender` of x-amzn-query-error). */
  get senderFault(): boolean {
    return this.status < 500;
  }
}

export const queueDoesNotExist = () =>
  new SqsError('QueueDoesNotExist', 'The specified queue does not exist.');

/** SQS's wording for a parameter out of range: "Value X for parameter Y is invalid. Reason: Z." */
export const invalidValue = (parameter: string, value: unknown, reason: string) =>
  new SqsError(
    'InvalidParameterValue',
    `Value ${describe(value)} for parameter ${parameter} is invalid. Reason: ${reason}.`,
  );

/** A value for a message: short, and never a walk through whatever structure a client sent. */
function describe(value: unknown): string {
  if (typeof value === 'string') return value.length > 100 ? `${value.slice(0, 100)}…` : value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === null) return 'null';
  return Array.isArray(value) ? '(a list)' : `(${typeof value})`;
}
