import { AsyncLocalStorage } from 'node:async_hooks';
import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';

/**
 * The ambient transaction: repositories ask it for the manager to query with, and get the current
 * transaction's when one is open in this async context, else the data source's own (autocommit through the
 * pool). Callers open a transaction with `transaction(work)` and no longer pass an EntityManager down.
 *
 * Why it matters beyond signatures: on the embedded database (PGlite, one session) a query that goes
 * through another connection while a transaction is open waits forever. With the manager taken from the
 * context, a repository called inside a transaction cannot miss it.
 *
 * Cost on the hot path: one AsyncLocalStorage lookup per query, no allocation. Our own class instead of
 * @nestjs-cls/transactional: a host application that embeds metering (UsageTrackingModule.forRoot) may run
 * its own global ClsModule, and metering's transactions must follow its own named data source, not the host's.
 */
/** One store for every host: a manager only counts for the host of its own data source (see `own`). */
const current = new AsyncLocalStorage<EntityManager>();

/** What runs when a transaction ends (see afterEnd), by its manager. */
const endings = new WeakMap<EntityManager, Array<(committed: boolean) => void>>();

@Injectable()
export class TransactionHost {
  private readonly current = current;

  constructor(private readonly dataSource: DataSource) {}

  /**
   * Runs `work` outside any ambient transaction, of any host (its queries autocommit through the pool). For
   * work that outlives its caller and serves others (a group-commit lane started by one request runs the transactions of many): it must never join
   * the transaction of whoever happened to start it.
   */
  static detached<T>(work: () => T): T {
    return current.exit(work);
  }

  /** The current transaction's manager when it is open and of this host's data source. */
  private own(): EntityManager | undefined {
    const m = this.current.getStore();
    return m && m.dataSource === this.dataSource && !m.queryRunner?.isReleased ? m : undefined;
  }

  /**
   * The current transaction's manager, or the data source's. A transaction that has ended (a timer or a
   * promise started inside it and running after its commit) no longer counts: its query runner is released.
   */
  get manager(): EntityManager {
    return this.own() ?? this.dataSource.manager;
  }

  /** Whether a transaction is open in this async context. */
  get active(): boolean {
    return this.own() !== undefined;
  }

  /**
   * Runs `work` in a transaction: the current one when there is one (its statements join it: all or nothing
   * together), else a new one committed when `work` resolves and rolled back when it throws.
   */
  transaction<T>(work: () => Promise<T>): Promise<T> {
    if (this.active) return work();
    return this.newTransaction(work);
  }

  /**
   * Runs `then(committed)` once the current transaction has ended: after its COMMIT, or after its rollback
   * (committed false); at once (true) when no transaction is open (the caller's statements autocommitted).
   * For bookkeeping that must only count what other sessions can see: nothing that touches the database.
   */
  afterEnd(then: (committed: boolean) => void): void {
    const m = this.own();
    if (!m) return then(true);
    const list = endings.get(m);
    if (list) list.push(then);
    else endings.set(m, [then]);
  }

  /**
   * Runs `work` in a transaction of its own even inside another (a what-if that is rolled back, DDL that
   * must commit). Never on the embedded database while a transaction is open: it would wait for it forever.
   */
  async newTransaction<T>(work: () => Promise<T>): Promise<T> {
    let manager: EntityManager | undefined;
    let result: T;
    try {
      result = await this.dataSource.transaction((m) => {
        manager = m;
        return this.current.run(m, work);
      });
    } catch (error) {
      ended(manager, false);
      throw error;
    }
    ended(manager, true);
    return result;
  }
}

function ended(manager: EntityManager | undefined, committed: boolean): void {
  const list = manager && endings.get(manager);
  if (!list) return;
  endings.delete(manager!);
  for (const then of list) then(committed);
}
