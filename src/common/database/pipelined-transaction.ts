import { QueryFailedError } from 'typeorm';

/** A statement: a `name` makes it a prepared statement of the connection (parsed once, not every call). */
export interface Statement {
  name?: string;
  text: string;
  values?: unknown[];
}

/** What this needs of a pooled pg client (pg's PoolClient): queries, release, and its pipeline switch. */
export interface PipelineClient {
  pipeline: boolean;
  query(config: Statement): Promise<{ rows: unknown[]; command: string }>;
  release(error?: Error | boolean): void;
  on(event: 'error', listener: (error: Error) => void): unknown;
  removeListener(event: 'error', listener: (error: Error) => void): unknown;
}

/** What this needs of pg's Pool. */
export interface PipelinePool {
  connect(): Promise<PipelineClient>;
}

/**
 * A transaction on one pooled connection whose statements go out without waiting for the answers of the
 * ones before them (pg's pipeline mode): `send` writes a statement at once and its promise resolves with
 * its rows when the server gets to it. The server runs them in the order sent, one after the other, so a
 * lone event's transaction costs two round trips instead of four to six: BEGIN goes with the first
 * statements, COMMIT with the last ones.
 *
 * Why not TypeORM's query runner: its `startTransaction` and `query` await hooks before they write to the
 * connection, so statements issued one after the other without awaiting are not guaranteed to go in that
 * order. pg's client writes a query the moment it is called.
 *
 * Errors: each statement is its own extended-protocol message with its own Sync, so after a failed one
 * the server answers every later one with 25P02 (the transaction is aborted) and turns the COMMIT into a
 * ROLLBACK. The error thrown is the first failure in the order sent (the cause), wrapped like TypeORM's
 * (QueryFailedError), whatever the caller awaited.
 */
export class PipelinedTransaction {
  private readonly sent: Array<Promise<unknown>> = [];
  /** The first failed statement's error, by position sent. */
  private failure: { at: number; error: unknown } | undefined;
  /** Every statement's failure (to tell them from an error `work` throws of its own). */
  private readonly failures = new Set<unknown>();

  constructor(private readonly client: PipelineClient) {}

  /** Sends `statement` now, behind everything sent before it; resolves with its rows. */
  send<T>(statement: Statement): Promise<T[]> {
    const at = this.sent.length;
    const reply = this.client.query(statement).then(
      (result) => result.rows as T[],
      (error: unknown) => {
        const wrapped = error instanceof Error ? new QueryFailedError(statement.text, statement.values, error) : error;
        if (!this.failure || at < this.failure.at) this.failure = { at, error: wrapped };
        this.failures.add(wrapped);
        throw wrapped;
      },
    );
    // Marked handled: a statement the caller never awaits (the ones sent with COMMIT) must not be an
    // unhandled rejection; its failure still surfaces through `failure`.
    this.sent.push(reply.catch(() => undefined));
    return reply;
  }

  /** Waits for every statement sent so far to answer (or fail). */
  settled(): Promise<unknown> {
    return Promise.all(this.sent);
  }

  /** The first statement that failed, in the order sent. */
  get firstFailure(): unknown {
    return this.failure?.error;
  }

  /** Whether `error` is a statement's failure (not an error of the caller's own). */
  isFailure(error: unknown): boolean {
    return this.failures.has(error);
  }
}

/**
 * Runs `work` in a pipelined transaction on a connection of `pool`: BEGIN is sent before anything `work`
 * sends, COMMIT right after `work` resolves, behind whatever it sent and did not await (its last writes go
 * in the same round trip as the COMMIT). Resolves once the COMMIT has answered; when any statement failed,
 * rejects with the first failure (the transaction then ended in a rollback). When `work` throws, a ROLLBACK
 * is sent and its error rethrown (if it is a statement's failure: the first statement's that failed).
 *
 * The connection goes back to the pool idle (the COMMIT or ROLLBACK answered) and with pipelining off,
 * or, if neither answered (the connection broke), is destroyed instead of being reused.
 */
export async function runPipelined<T>(pool: PipelinePool, work: (t: PipelinedTransaction) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // A checked-out client has no 'error' listener of the pool's (pg-pool removes its own while the client is
  // lent out; TypeORM's query runner adds one while it holds a connection): without this one, a connection
  // that breaks mid-transaction (a failover, pg_terminate_backend, a reset) would be an unhandled 'error'
  // event and end the process. The failure itself reaches the caller through the statements' rejections.
  const onError = (): void => undefined;
  client.on('error', onError);
  // The pool's connections are shared with TypeORM, which awaits each query: pipelining is switched on only
  // while this transaction holds the connection, and off before it goes back.
  client.pipeline = true;
  const t = new PipelinedTransaction(client);
  let ended = false;
  try {
    void t.send({ text: 'BEGIN' });
    let value: T;
    try {
      value = await work(t);
    } catch (error) {
      ended = await end(t, 'ROLLBACK');
      // A statement's failure is reported as the first one (a later statement only failed because the
      // transaction was aborted by then); an error of `work`'s own (its decision to roll back) as it is.
      throw t.isFailure(error) ? t.firstFailure : error;
    }
    ended = await end(t, 'COMMIT');
    // A COMMIT of an aborted transaction answers ROLLBACK without an error: the failure is the statement's.
    if (t.firstFailure !== undefined) throw t.firstFailure;
    return value;
  } finally {
    client.removeListener('error', onError);
    client.pipeline = false;
    // A connection whose transaction did not end (its COMMIT or ROLLBACK failed) must not be reused.
    client.release(ended ? undefined : new Error('pipelined transaction did not end'));
  }
}

/** Sends COMMIT or ROLLBACK behind everything sent, waits for all of it; whether it answered (the transaction ended). */
async function end(t: PipelinedTransaction, verb: 'COMMIT' | 'ROLLBACK'): Promise<boolean> {
  const ended = t.send({ text: verb }).then(
    () => true,
    () => false,
  );
  await t.settled();
  return ended;
}
