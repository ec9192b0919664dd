import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { runPipelined } from '../../common/database/pipelined-transaction';
import type { PipelinedTransaction, PipelinePool, Statement } from '../../common/database/pipelined-transaction';
import { TransactionHost } from '../../common/database/transaction-host';
import { APP_CONFIG } from '../../config/app-config';
import type { AppConfig } from '../../config/app-config';
import type { ConsumeParams, ConsumeResult, EntryRows, HoldSettlement, LedgerEventRow, RefusedEventRow, ReserveParams, ReserveResult } from './ledger.types';

const ROLLBACK = new Error('quote: rolled back on purpose');

/**
 * The ledger row's columns with their types, in the order of the parameters that carry them: one array
 * parameter per column (`unnest($n::type[], …)`), not one JSON document. Parsing a JSON document of 1,000
 * rows (jsonb_in, which sorts every object's keys) was a third of PostgreSQL's CPU for a batch; an array of
 * each column is parsed by the column type's own input function.
 */
const EVENT_COLUMNS: Array<[keyof LedgerEventRow, string]> = [
  ['organization_id', 'text'], ['occurred_at', 'timestamptz'], ['id', 'uuid'], ['period_start', 'date'], ['recorded_at', 'timestamptz'],
  ['event_type', 'text'], ['category', 'text'], ['definition_version', 'int'], ['user_id', 'text'], ['credits', 'numeric'],
  ['from_allowance', 'numeric'], ['from_grants', 'numeric'], ['overage', 'numeric'], ['overage_cost', 'numeric'], ['limit_key', 'text'],
  ['breakdown', 'jsonb'], ['idempotency_key', 'text'], ['endpoint', 'text'], ['ip', 'text'], ['user_agent', 'text'], ['api_key_id', 'text'], ['run_id', 'uuid'],
];
const EVENT_NAMES = EVENT_COLUMNS.map(([name]) => name).join(', ');

/**
 * The CTEs of writeEntries / settleHolds over $1 grant takes, $2 notifications, $3 now and the events' column
 * arrays from $<first> (the breakdowns' column one JSON array). Each INSERT's source carries a gate comment that settleHolds turns into its condition.
 */
function entryCtes(first: number): string {
  const arrays = EVENT_COLUMNS.flatMap(([name, type], n) => (name === 'breakdown' ? [] : [`$${first + n}::${type}[]`])).join(', ');
  const unnested = EVENT_COLUMNS.flatMap(([name]) => (name === 'breakdown' ? [] : [name])).join(', ');
  // breakdown: the n-th element of one JSON array (see entryParams); a JSON null there is SQL NULL.
  const selected = EVENT_COLUMNS.map(([name], n) => (name === 'breakdown' ? `nullif($${first + n}::jsonb -> (r.n - 1)::int, 'null'::jsonb)` : `r.${name}`)).join(', ');
  return `
  ev AS (
    INSERT INTO usage_events (${EVENT_NAMES})
    SELECT ${selected}
      FROM unnest(${arrays}) WITH ORDINALITY AS r(${unnested}, n)
     /* gate:events */
    RETURNING organization_id, occurred_at, period_start, event_type, category, coalesce(user_id, '') AS user_id, credits, overage),
  daily AS (
    INSERT INTO usage_rollups_daily AS t (organization_id, day, event_type, category, user_id, events, credits, overage)
    SELECT organization_id, (occurred_at AT TIME ZONE 'UTC')::date, event_type, category, user_id, count(*), sum(credits), sum(overage)
      FROM ev GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (organization_id, day, event_type, category, user_id) DO UPDATE
      SET events = t.events + EXCLUDED.events, credits = t.credits + EXCLUDED.credits, overage = t.overage + EXCLUDED.overage
    RETURNING 1),
  monthly AS (
    INSERT INTO usage_rollups_monthly AS t (organization_id, period_start, event_type, category, user_id, events, credits, overage)
    SELECT organization_id, period_start, event_type, category, user_id, count(*), sum(credits), sum(overage)
      FROM ev GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (organization_id, period_start, event_type, category, user_id) DO UPDATE
      SET events = t.events + EXCLUDED.events, credits = t.credits + EXCLUDED.credits, overage = t.overage + EXCLUDED.overage
    RETURNING 1),
  gc AS (
    INSERT INTO grant_consumptions (organization_id, grant_id, event_id, period_start, credits)
    SELECT organization_id, grant_id, event_id, period_start, credits
      FROM jsonb_to_recordset($1::jsonb) AS r(organization_id text, grant_id uuid, event_id uuid, period_start date, credits numeric)
     /* gate:takes */
    RETURNING 1),
  fresh AS (
    INSERT INTO notifications (organization_id, id, period_start, type, threshold, used, "limit", payload, dedupe_key)
    SELECT organization_id, id, period_start, type, threshold, used, "limit", payload, coalesce(dedupe_key, '')
      FROM jsonb_to_recordset($2::jsonb) AS r(organization_id text, id uuid, period_start date, type text, threshold numeric, used numeric, "limit" numeric, payload jsonb, dedupe_key text)
     /* gate:notifications */
    ON CONFLICT (organization_id, period_start, type, threshold, "limit", dedupe_key) DO NOTHING
    RETURNING organization_id, id, payload),
  outbox AS (
    INSERT INTO webhook_deliveries (organization_id, id, notification_id, event, payload, next_attempt_at, created_at)
    SELECT n.organization_id, gen_random_uuid(), n.id, n.payload->>'event', n.payload, $3, $3
      FROM fresh n JOIN organizations o ON o.id = n.organization_id AND o.webhook_url IS NOT NULL
    ON CONFLICT DO NOTHING
    RETURNING 1)`;
}

const WRITE_ENTRIES_SQL = `WITH ${entryCtes(4)} SELECT (SELECT count(*) FROM ev) AS events`;

/**
 * settleHolds over the entries' $1..$3, $4 the holds, and the events' arrays from $5: each reservation's
 * UPDATE is its own gate, and each entry row passes only with its event's (a notification carries its event
 * id in its payload).
 */
const SETTLE_HOLDS_SQL = `WITH req AS (
         SELECT * FROM jsonb_to_recordset($4::jsonb) AS x(org text, id uuid, event_id uuid, credits numeric, key text, response jsonb)),
       gate AS (
         UPDATE reservations r SET status = 'committed', event_id = req.event_id, settled_at = $3
           FROM req
          WHERE r.organization_id = req.org AND r.id = req.id AND r.status = 'pending' AND r.expires_at > $3 AND r.credits = req.credits
          RETURNING r.organization_id, r.id, r.event_id, req.key, req.response),
       key_done AS (
         UPDATE idempotency_keys k SET event_id = g.event_id, response = g.response
           FROM gate g WHERE k.organization_id = g.organization_id AND k.key = g.key RETURNING 1),
       ${entryCtes(5)
         .replace('/* gate:events */', 'WHERE r.id IN (SELECT event_id FROM gate)')
         .replace('/* gate:takes */', 'WHERE r.event_id IN (SELECT event_id FROM gate)')
         .replace('/* gate:notifications */', "WHERE (r.payload->>'eventId')::uuid IN (SELECT event_id FROM gate)")}
       SELECT coalesce((SELECT array_agg(id::text) FROM gate), '{}') AS settled`;

const RESERVE_MANY_SQL = `SELECT * FROM reserve_credits_many($1, $2::int, $3::jsonb) ORDER BY i`;

/**
 * Debits and holds of up to this many events run their functions' statements on generic plans
 * (sendConsumeMany, reserveMany): the single events of a group commit (a group of 64 connections' requests is
 * ~30 events), not the batches of up to 1,000.
 */
const GENERIC_PLANS_UP_TO = 64;
const GENERIC_PLANS = 'SET LOCAL plan_cache_mode = force_generic_plan';

/** What pg's client and pool have in common: a query by config object (a name makes it a prepared statement). */
interface PgQueryable {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }>;
}


/** $1 takes, $2 notifications, $3 now; then `extra` (settleHolds' holds); then one array per event column. */
function entryParams(entries: EntryRows, now: Date, extra: unknown[] = []): unknown[] {
  const columns = EVENT_COLUMNS.map(([name]) => {
    // The breakdowns go as ONE JSON array, not a jsonb[] of JSON texts: as array elements each text was
    // escaped for the array literal (every quote, by pg in JS) and unescaped again by PostgreSQL's array_in
    // before its jsonb_in, the largest column of a batch (a third of its parameters' bytes).
    if (name === 'breakdown') return JSON.stringify(entries.events.map((e) => e.breakdown ?? null));
    const values: unknown[] = new Array(entries.events.length);
    for (let n = 0; n < entries.events.length; n++) values[n] = entries.events[n][name] ?? null;
    return values;
  });
  return [JSON.stringify(entries.takes), JSON.stringify(entries.notifications), now, ...extra, ...columns];
}

/**
 * SQL of the ledger. Methods that belong in the caller's transaction run in the ambient one (TransactionHost:
 * on PGlite another connection would wait forever); reserveMany and settleHolds are statements of their own.
 */
@Injectable()
export class LedgerRepository {
  private readonly partitions = new Set<string>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly tx: TransactionHost,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Creates the month's partition once per process (idempotent in SQL too; another instance may race us). */
  async ensurePartition(periodStart: string): Promise<void> {
    if (this.partitions.has(periodStart)) return;
    try {
      await this.dataSource.query(`SELECT ensure_usage_events_partition($1::date)`, [periodStart]);
    } catch (error) {
      // A concurrent creator won: the partition exists, which is all we wanted.
      const exists = (await this.dataSource.query(`SELECT to_regclass($1) AS t`, [`usage_events_${periodStart.slice(0, 7).replace('-', '_')}`])) as Array<{ t: string | null }>;
      if (!exists[0]?.t) throw error;
    }
    this.partitions.add(periodStart);
  }

  /** One debit: a batch of one through consume_credits_many, so it carries every item field (the run too). */
  async consume(p: ConsumeParams): Promise<ConsumeResult> {
    const [row] = await this.consumeMany(p.now, [p]);
    return row;
  }

  /**
   * Holds of one or many organizations in ONE statement and its own transaction (reserve_credits_many: every
   * key claimed first, one debit pass, the reservation rows in one INSERT); results in the items' order.
   * `now` is the group's: it dates the rows and decides what is open.
   */
  async reserveMany(items: ReserveParams[], now: Date): Promise<ReserveResult[]> {
    if (items.length === 0) return [];
    const json = JSON.stringify(
      items.map((p, i) => ({
        i,
        org: p.organizationId,
        id: p.id,
        period: p.debit.periodStart,
        amount: p.debit.amount,
        limit_key: p.debit.limitKey,
        key: p.key,
        key_hash: p.keyHash,
        request_hash: p.requestHash,
        occurred_at: p.occurredAt,
        event_type: p.eventType,
        user_id: p.userId,
        event_data: p.eventData,
        context: p.context,
        expires_at: p.expiresAt,
        api_key_id: p.debit.apiKeyId ?? null,
        day: p.debit.day ?? null,
        run_id: p.debit.runId ?? null,
      })),
    );
    const statement = { name: 'ledger_reserve_many', text: RESERVE_MANY_SQL, values: [now, this.config.periodCloseGraceMinutes, json] };
    if (this.config.databaseUrl && items.length <= GENERIC_PLANS_UP_TO) {
      // A few holds: reserve_credits_many on generic plans (sendConsumeMany says why; measured 1.2 against
      // 1.8 ms a call for one hold). SET LOCAL needs a transaction block: BEGIN, SET, the statement and
      // COMMIT go out together, one round trip as before. Rows handed out in a box: a promise returned by
      // the work would be awaited before the COMMIT is sent (a second round trip).
      const sent = await runPipelined(this.pool, async (t) => {
        void t.send({ text: GENERIC_PLANS });
        return { rows: t.send<ReserveResult>(statement) };
      });
      return sent.rows;
    }
    return this.prepared<ReserveResult>(false, statement);
  }

  /**
   * Creates the balance rows of these periods that do not exist yet, each with its plan decided under the
   * organization row lock. Called before a transaction locks its first balance row (lock order: organization,
   * then balances), by paths that debit one event at a time.
   */
  async ensureBalances(organizationId: string, periodStarts: string[], now: Date): Promise<void> {
    const periods = [...new Set(periodStarts)].sort();
    if (periods.length === 0) return;
    await this.tx.manager.query(
      `SELECT ensure_period_balance($1, p, $3) FROM unnest($2::date[]) AS p WHERE period_accepts_events(p, $3, $4::int) ORDER BY p`,
      [organizationId, periods, now, this.config.periodCloseGraceMinutes],
    );
  }

  /**
   * Debits many events in one round trip, in order; results in the same order. One organization's events go
   * to consume_credits_many; several organizations' (a group commit across organizations) to
   * consume_credits_orgs: the same single pass over every organization's events, one call per group (the
   * balance rows locked in (organization, period) order, then budget windows, runs, and each organization's
   * top-ups in id order: the lock order of such transactions).
   */
  async consumeMany(now: Date, items: ConsumeParams[]): Promise<ConsumeResult[]> {
    if (items.length === 0) return [];
    return this.prepared<ConsumeResult & { i: number }>(true, this.consumeManyStatement(now, items));
  }

  /**
   * consumeMany's statement, for a caller that sends it itself (a pipelined transaction). Named, like the
   * write: sent unnamed it was parsed and analysed on every call (~3.5 % of PostgreSQL's CPU on single events).
   */
  consumeManyStatement(now: Date, items: ConsumeParams[]): Required<Statement> {
    const first = items[0].organizationId;
    const oneOrganization = items.every((p) => p.organizationId === first);
    const json = JSON.stringify(
      items.map((p, i) => ({ i, org: p.organizationId, period: p.periodStart, amount: p.amount, limit_key: p.limitKey, api_key_id: p.apiKeyId ?? null, user_id: p.userId ?? null, day: p.day ?? null, run_id: p.runId ?? null })),
    );
    return oneOrganization
      ? { name: 'ledger_consume_many', text: `SELECT * FROM consume_credits_many($1, $2, $3::int, $4::jsonb) ORDER BY i`, values: [first, now, this.config.periodCloseGraceMinutes, json] }
      : { name: 'ledger_consume_orgs', text: `SELECT * FROM consume_credits_orgs($1, $2::int, $3::jsonb) ORDER BY i`, values: [now, this.config.periodCloseGraceMinutes, json] };
  }

  /**
   * Sends consumeMany's statement in a pipelined transaction; resolves with its results in the items' order.
   * A debit of a few events first switches the transaction to generic plans (SET LOCAL, sent in the same
   * round trip): consume_credits_many runs a dozen statements whatever the number of events, and PostgreSQL
   * kept re-planning each of them on every call (their custom plans looked cheaper than the generic ones),
   * which was most of a lone event's debit: 0.67-0.90 ms a call with custom plans against 0.41-0.51 ms with
   * generic ones (server log, one event a transaction, same run). A large batch keeps custom plans, made with
   * its parameters' values.
   */
  sendConsumeMany(t: PipelinedTransaction, now: Date, items: ConsumeParams[]): Promise<ConsumeResult[]> {
    if (items.length <= GENERIC_PLANS_UP_TO) void t.send({ text: GENERIC_PLANS });
    return t.send<ConsumeResult>(this.consumeManyStatement(now, items));
  }

  /**
   * Runs `work` in a transaction of its own whose statements are pipelined (runPipelined: BEGIN with the
   * first ones, COMMIT with the last ones), or returns undefined where that cannot be: on the embedded
   * database (its socket server serves one session and interleaves the messages of connections) and inside
   * an ambient transaction (`work` would have to join it).
   */
  pipelined<T>(work: (t: PipelinedTransaction) => Promise<T>): Promise<T> | undefined {
    if (!this.config.databaseUrl || this.tx.active) return undefined;
    return runPipelined(this.pool, work);
  }

  /** The data source's pg pool (TypeORM's postgres driver's). */
  private get pool(): PipelinePool & PgQueryable {
    return (this.dataSource.driver as unknown as { master: PipelinePool & PgQueryable }).master;
  }

  /**
   * Everything a transaction accepted, in ONE statement (data-modifying CTEs): the ledger rows, the daily and
   * monthly rollups (grouped first: ON CONFLICT cannot touch a row twice in a statement), the grant
   * consumptions, the threshold notifications (each once a period: the unique key) and, for the ones that
   * are new, their webhook deliveries in the outbox, so a crash can neither lose a delivery nor send one for
   * a rolled-back event. Rollup writers are serialized with a rebuild by the period's balance row lock,
   * which every debit takes.
   */
  async writeEntries(entries: EntryRows, now: Date): Promise<void> {
    const statement = this.writeEntriesStatement(entries, now);
    if (statement) await this.prepared(true, statement);
  }

  /** writeEntries' statement (for a pipelined transaction); undefined when there is nothing to write. */
  writeEntriesStatement(entries: EntryRows, now: Date): Required<Statement> | undefined {
    if (entries.events.length === 0 && entries.notifications.length === 0) return undefined;
    return { name: 'ledger_write_entries', text: WRITE_ENTRIES_SQL, values: entryParams(entries, now) };
  }

  /**
   * A named prepared statement: the server parses and plans it once per connection. The ledger's CTE
   * statements cost about as much to plan (0.28 ms measured with EXPLAIN (ANALYZE) for writeEntries) as
   * to run, on every request; their text is constant, so one plan serves every call. `ambient`: on the
   * ambient transaction's connection when one is open, else (and for a statement of its own) on the pool.
   */
  private async prepared<T>(ambient: boolean, statement: Required<Statement>): Promise<T[]> {
    const runner = (ambient && this.tx.active ? this.tx.manager.queryRunner : undefined) as { connect(): Promise<PgQueryable> } | undefined;
    const target: PgQueryable = runner ? await runner.connect() : this.pool;
    return (await target.query(statement)).rows as T[];
  }

  /**
   * Commits holds whose price did not change, of one or many organizations, in ONE statement and its own
   * transaction: each reservation turns committed (only if it is still pending, unexpired and of that price:
   * the UPDATE's row lock settles a race with a sweep or a second commit), and its event takes the hold over
   * with the same writes as writeEntries, each row gated on its own reservation's UPDATE. Returns the
   * reservations settled; a hold whose gate did not open wrote nothing (its caller falls back to the checked
   * path, which says why).
   */
  async settleHolds(holds: Array<{ hold: HoldSettlement; entries: EntryRows }>, now: Date): Promise<Set<string>> {
    if (holds.length === 0) return new Set();
    const entries: EntryRows = { events: [], takes: [], notifications: [] };
    for (const h of holds) {
      entries.events.push(...h.entries.events);
      entries.takes.push(...h.entries.takes);
      entries.notifications.push(...h.entries.notifications);
    }
    const params = entryParams(entries, now, [
      JSON.stringify(holds.map(({ hold }) => ({ org: hold.organizationId, id: hold.reservationId, event_id: hold.eventId, credits: hold.credits, key: hold.key, response: hold.response }))),
    ]);
    const rows = await this.prepared<{ settled: string[] }>(false, { name: 'ledger_settle_holds', text: SETTLE_HOLDS_SQL, values: params });
    return new Set(rows[0].settled);
  }

  async balancePlan(organizationId: string, periodStart: string): Promise<string | null> {
    const rows = (await this.tx.manager.query(`SELECT plan_name FROM period_balances WHERE organization_id = $1 AND period_start = $2::date`, [organizationId, periodStart])) as Array<{ plan_name: string }>;
    return rows[0]?.plan_name ?? null;
  }

  /** Refused asynchronous events, in one statement. */
  async insertRefused(rows: RefusedEventRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.tx.manager.query(
      `INSERT INTO refused_events (organization_id, id, occurred_at, recorded_at, event_type, user_id, credits, event_data, error, message, source, idempotency_key)
       SELECT organization_id, id, occurred_at, recorded_at, event_type, user_id, credits, event_data, error, message, source, idempotency_key
         FROM jsonb_to_recordset($1::jsonb) AS r(organization_id text, id uuid, occurred_at timestamptz, recorded_at timestamptz, event_type text, user_id text,
              credits numeric, event_data jsonb, error text, message text, source text, idempotency_key text)`,
      [JSON.stringify(rows)],
    );
  }

  /** Runs `work` in the ambient transaction (joined when one is open): every method above then runs in it. */
  transaction<T>(work: () => Promise<T>): Promise<T> {
    return this.tx.transaction(work);
  }

  /** Runs `work` in a transaction that is always rolled back: a what-if with the real rules and locks. */
  async quote<T>(work: () => Promise<T>): Promise<T> {
    let result: { value: T } | undefined;
    try {
      // A transaction of its own, even inside another: rolling back must not take the caller's work with it.
      await this.tx.newTransaction(async () => {
        result = { value: await work() };
        throw ROLLBACK;
      });
    } catch (error) {
      if (error !== ROLLBACK) throw error;
    }
    return result!.value;
  }
}
