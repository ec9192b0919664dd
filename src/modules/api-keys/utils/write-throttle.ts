/**
 * Lets an action through at most once per interval per key (e.g. "record last use of API key X"), so a hot
 * path does not write on every request. Bounded like a cache: forgetting a key only allows one early write.
 */
export class WriteThrottle {
  private readonly last = new Map<string, number>();

  constructor(
    private readonly intervalMs: number,
    private readonly maxKeys = 10_000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** True when the action for `key` may run now (and records that it did). */
  take(key: string): boolean {
    const now = this.now();
    const previous = this.last.get(key);
    if (previous !== undefined && now - previous < this.intervalMs) return false;
    this.last.delete(key);
    if (this.last.size >= this.maxKeys) {
      const oldest = this.last.keys().next();
      if (!oldest.done) this.last.delete(oldest.value);
    }
    this.last.set(key, now);
    return true;
  }
}
