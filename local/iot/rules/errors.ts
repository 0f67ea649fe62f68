/** Malformed SQL: the message says at which position (0-based offset) and what was expected. */
export class SqlSyntaxError extends Error {
  override readonly name = 'SqlSyntaxError';
}

/**
 * Valid AWS IoT SQL that the offline rules engine does not evaluate. Refusing it when the rule is
 * compiled is better than answering differently from AWS at run time.
 */
export class UnsupportedSqlError extends Error {
  override readonly name = 'UnsupportedSqlError';
}
