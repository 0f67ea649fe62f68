/**
 * A lookup table keyed by names that come from rules and policies (function names, cast types,
 * policy variables). It has no prototype, so `constructor`, `toString` or `__proto__` are names
 * like any other: not found, rather than Object.prototype's members.
 */
export function lookupTable<T>(
  entries: Record<string, T>,
): Readonly<Record<string, T | undefined>> {
  return Object.freeze(Object.assign(Object.create(null) as Record<string, T>, entries));
}
