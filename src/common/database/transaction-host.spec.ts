import { describe, expect, it } from '@jest/globals';
import type { DataSource, EntityManager } from 'typeorm';
import { TransactionHost } from './transaction-host';

/** A data source whose transactions hand out managers with their own released flag. */
function fakeDataSource() {
  const base = { name: 'pool' } as unknown as EntityManager;
  const opened: Array<{ m: EntityManager; runner: { isReleased: boolean } }> = [];
  const ds: DataSource = {
    manager: base,
    async transaction<T>(work: (m: EntityManager) => Promise<T>): Promise<T> {
      const runner = { isReleased: false };
      const m = { name: `tx${opened.length + 1}`, queryRunner: runner, dataSource: ds } as unknown as EntityManager;
      opened.push({ m, runner });
      try {
        return await work(m);
      } finally {
        runner.isReleased = true;
      }
    },
  } as unknown as DataSource;
  (base as unknown as { dataSource: DataSource }).dataSource = ds;
  return { ds, base, opened };
}

const nameOf = (m: EntityManager) => (m as unknown as { name: string }).name;

describe('TransactionHost', () => {
  it('hands out the pool manager outside a transaction and the transaction manager inside, across awaits', async () => {
    const { ds } = fakeDataSource();
    const host = new TransactionHost(ds);
    expect(nameOf(host.manager)).toBe('pool');
    expect(host.active).toBe(false);
    const seen = await host.transaction(async () => {
      const first = nameOf(host.manager);
      await new Promise((r) => setTimeout(r, 1));
      return [first, nameOf(host.manager), host.active];
    });
    expect(seen).toEqual(['tx1', 'tx1', true]);
    expect(nameOf(host.manager)).toBe('pool');
  });

  it('joins the current transaction instead of opening a second one (nested calls are one unit)', async () => {
    const { ds, opened } = fakeDataSource();
    const host = new TransactionHost(ds);
    await host.transaction(() => host.transaction(async () => expect(nameOf(host.manager)).toBe('tx1')));
    expect(opened).toHaveLength(1);
  });

  it('keeps concurrent transactions apart', async () => {
    const { ds } = fakeDataSource();
    const host = new TransactionHost(ds);
    const tick = () => new Promise((r) => setImmediate(r));
    const run = () =>
      host.transaction(async () => {
        const mine = nameOf(host.manager);
        await tick();
        await tick();
        return mine === nameOf(host.manager) ? mine : 'mixed';
      });
    const names = await Promise.all([run(), run(), run()]);
    expect(new Set(names)).toEqual(new Set(['tx1', 'tx2', 'tx3']));
  });

  it('no longer hands out a transaction that has ended to work it started (a timer past the commit)', async () => {
    const { ds } = fakeDataSource();
    const host = new TransactionHost(ds);
    let later: Promise<string> | undefined;
    await host.transaction(async () => {
      later = new Promise((resolve) => setTimeout(() => resolve(nameOf(host.manager)), 5));
    });
    expect(await later).toBe('pool');
  });

  it('newTransaction opens its own inside another; detached leaves it', async () => {
    const { ds, opened } = fakeDataSource();
    const host = new TransactionHost(ds);
    const seen = await host.transaction(async () => [nameOf(host.manager), await host.newTransaction(async () => nameOf(host.manager)), await TransactionHost.detached(async () => nameOf(host.manager)), nameOf(host.manager)]);
    expect(seen).toEqual(['tx1', 'tx2', 'pool', 'tx1']);
    expect(opened).toHaveLength(2);
  });

  it('rolls back by throwing: the error reaches the caller and the context is left', async () => {
    const { ds } = fakeDataSource();
    const host = new TransactionHost(ds);
    const failing = host.transaction(async () => {
      throw new Error('no');
    });
    await expect(failing).rejects.toThrow('no');
    expect(host.active).toBe(false);
  });

  it("never hands one data source's transaction to another's host", async () => {
    const a = new TransactionHost(fakeDataSource().ds);
    const b = new TransactionHost(fakeDataSource().ds);
    const seen = await a.transaction(async () => [nameOf(a.manager), nameOf(b.manager), b.active]);
    expect(seen).toEqual(['tx1', 'pool', false]);
  });

  it('detached work (a group-commit lane) does not join the transaction it was started from', async () => {
    const { ds, opened } = fakeDataSource();
    const host = new TransactionHost(ds);
    const inner = await host.transaction(() => TransactionHost.detached(() => host.transaction(async () => nameOf(host.manager))));
    expect(inner).toBe('tx2');
    expect(opened).toHaveLength(2);
  });

  it('afterEnd runs once the outermost transaction has committed (true) or rolled back (false); at once outside one', async () => {
    const { ds } = fakeDataSource();
    const host = new TransactionHost(ds);
    const seen: string[] = [];
    host.afterEnd((c) => seen.push(`outside:${c}`));
    expect(seen).toEqual(['outside:true']);
    await host.transaction(async () => {
      host.afterEnd((c) => seen.push(`outer:${c}`));
      // A nested call joins: its ending is the outer transaction's.
      await host.transaction(async () => host.afterEnd((c) => seen.push(`joined:${c}`)));
      expect(seen).toEqual(['outside:true']);
    });
    expect(seen).toEqual(['outside:true', 'outer:true', 'joined:true']);
    await expect(
      host.transaction(async () => {
        host.afterEnd((c) => seen.push(`failed:${c}`));
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect(seen.at(-1)).toBe('failed:false');
    // Each transaction's endings once: a later one runs none of them again.
    await host.transaction(async () => undefined);
    expect(seen).toHaveLength(4);
  });
});
