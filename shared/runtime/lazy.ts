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

/** As lazy, for a value that comes asynchronously; a failure is not kept, so the next call retries. */
export function lazyAsync<T>(make: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  resets.add(() => (value = undefined));
  return () =>
    (value ??= make().catch((error: unknown) => {
      value = undefined;
      throw error;
    }));
}
