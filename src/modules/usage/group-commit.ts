import { TransactionHost } from '../../common/database/transaction-host';

/**
 * Group commit. Items that arrive while a run of their lane is going wait for it, then go together in the
 * next run: one commit for many requests, of any organizations, instead of one each, with the same per-item
 * guarantees (in order, each decided on its own). An organization always maps to the same lane (a stable hash
 * of its id over `lanes`), so its items stay in order; the lanes' runs go side by side. A lone item goes at
 * once, so nothing waits when there is no contention.
 *
 * When a shared run fails (and rolled back whole), whatever one item did must not fail the others: each goes
 * again on its own, so only the one that fails alone gets the error.
 */
export class GroupCommit<I, O> {
  private readonly groups = new Map<string, Array<{ input: I; resolve: (o: O) => void; reject: (e: unknown) => void }>>();

  constructor(
    private readonly run: (inputs: I[]) => Promise<O[]>,
    private readonly options: { maxPerRun: number; lanes: number },
  ) {}

  /** Queues one organization's item in its lane; resolves with its own outcome. */
  submit(organizationId: string, input: I): Promise<O> {
    const key = laneOf(organizationId, this.options.lanes);
    return new Promise<O>((resolve, reject) => {
      const waiting = this.groups.get(key);
      if (waiting) {
        waiting.push({ input, resolve, reject });
        return;
      }
      const group = [{ input, resolve, reject }];
      this.groups.set(key, group);
      // Detached: the lane runs the transactions of everyone who queues behind this first caller, so it
      // must not join a transaction the caller may have open (TransactionHost).
      void TransactionHost.detached(() => this.drain(key, group));
    });
  }

  private async drain(key: string, group: Array<{ input: I; resolve: (o: O) => void; reject: (e: unknown) => void }>): Promise<void> {
    try {
      while (group.length > 0) {
        const batch = group.splice(0, this.options.maxPerRun);
        try {
          const outcomes = await this.run(batch.map((b) => b.input));
          batch.forEach((b, i) => b.resolve(outcomes[i]));
        } catch (error) {
          if (batch.length === 1) {
            batch[0].reject(error);
            continue;
          }
          for (const b of batch) {
            try {
              b.resolve((await this.run([b.input]))[0]);
            } catch (own) {
              b.reject(own);
            }
          }
        }
      }
    } finally {
      this.groups.delete(key);
    }
  }
}

/** The group-commit lane of an organization: a stable hash of its id. */
export function laneOf(organizationId: string, lanes: number): string {
  if (lanes <= 1) return '0';
  let h = 0;
  for (let i = 0; i < organizationId.length; i++) h = (Math.imul(h, 31) + organizationId.charCodeAt(i)) | 0;
  return String((h >>> 0) % lanes);
}
