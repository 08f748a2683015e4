/**
 * Runs `fn` over `items` with at most `limit` at once. Deterministic in a workflow: the order in
 * which its promises settle is replayed from history.
 */
export async function inPool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const running = new Set<Promise<void>>();
  for (const item of items) {
    while (running.size >= limit) await Promise.race(running);
    const p: Promise<void> = fn(item).finally(() => running.delete(p));
    running.add(p);
  }
  await Promise.all(running);
}
