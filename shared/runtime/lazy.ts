/**
 * A value built on first use and kept for the life of the Lambda instance (warm invocations reuse
 * clients and their keep-alive connections). Tests reset them all after changing the environment.
 */
const resets = new Set<() => void>();

export function lazy<T>(make: () => T): () => T {
  let value: T | undefined;
  resets.add(() => (value = undefined));
  return () => (value ??= make());
}

export function resetLazyValues(): void {
  for (const reset of resets) reset();
}
