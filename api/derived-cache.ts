// Answers built from the analytics tables change only when the Refresher runs (every 15 minutes
// by default), and clients are told they may keep them a minute: the API keeps them for a few
// seconds too, so a burst of identical statistics requests costs the database one query (the
// summary counts every author up to a million: 1 ms of PostgreSQL per request at 20,000).
// Bounded: the oldest entry goes first past `max` (a client varying query strings cannot grow it).
export class DerivedCache {
  private readonly entries = new Map<string, { value: unknown; until: number }>();
  constructor(
    private readonly ttlMs: number,
    private readonly max: number,
  ) {}

  get(key: string, now = Date.now()): unknown {
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    if (hit.until > now) return hit.value;
    this.entries.delete(key);
    return undefined;
  }

  set(key: string, value: unknown, now = Date.now()): void {
    this.entries.delete(key);
    if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { value, until: now + this.ttlMs });
  }
}
