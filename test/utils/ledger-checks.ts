import { expect } from '@jest/globals';
import Big from 'big.js';
import type { DataSource } from 'typeorm';

/** Snapshot of an organization's ledger: counts and sums straight from the tables. */
export async function ledgerState(ds: DataSource, orgId: string) {
  const [events] = await ds.query(
    `SELECT count(*)::int AS n, coalesce(sum(credits), 0)::text AS credits, coalesce(sum(from_allowance), 0)::text AS allowance,
            coalesce(sum(from_grants), 0)::text AS grants, coalesce(sum(overage), 0)::text AS overage, coalesce(sum(overage_cost), 0)::text AS overage_cost
       FROM usage_events WHERE organization_id = $1`,
    [orgId],
  );
  const [balances] = await ds.query(
    `SELECT coalesce(sum(consumed), 0)::text AS consumed, coalesce(sum(allowance_used), 0)::text AS allowance_used,
            coalesce(sum(grants_used), 0)::text AS grants_used, coalesce(sum(overage_used), 0)::text AS overage_used,
            coalesce(sum(overage_cost), 0)::text AS overage_cost, coalesce(sum(events), 0)::int AS events
       FROM period_balances WHERE organization_id = $1`,
    [orgId],
  );
  const [held] = await ds.query(
    `SELECT count(*)::int AS n, coalesce(sum(credits), 0)::text AS credits, coalesce(sum(from_allowance), 0)::text AS allowance,
            coalesce(sum(from_grants), 0)::text AS grants, coalesce(sum(overage), 0)::text AS overage, coalesce(sum(overage_cost), 0)::text AS overage_cost
       FROM reservations WHERE organization_id = $1 AND status = 'pending'`,
    [orgId],
  );
  const [keys] = await ds.query(`SELECT count(*)::int AS n FROM idempotency_keys WHERE organization_id = $1`, [orgId]);
  return { events, balances, reserved: held, keys: keys.n as number };
}

/**
 * The ledger invariants (docs/ledger.md): every balance equals the ledger (recorded events plus pending
 * reservations, which hold credits), and every grant's use equals what consumed it.
 */
export async function expectLedgerConsistent(ds: DataSource, orgId: string, options: { downgradedBelowUse?: boolean } = {}): Promise<void> {
  const { events, balances, reserved } = await ledgerState(ds, orgId);
  // Exact decimals (the ledger keeps micro-credits): '4.900000' and '4.9' are the same amount, 0.0049 is not 0.
  const sum = (a: string, b: string) => new Big(a).plus(b).toString();
  const exact = (a: string) => new Big(a).toString();
  expect(exact(balances.consumed)).toBe(sum(events.credits, reserved.credits));
  expect(exact(balances.allowance_used)).toBe(sum(events.allowance, reserved.allowance));
  expect(exact(balances.grants_used)).toBe(sum(events.grants, reserved.grants));
  expect(exact(balances.overage_used)).toBe(sum(events.overage, reserved.overage));
  // The rollups carry the same precision: they add up to the recorded events exactly.
  const [rollups] = await ds.query(
    `SELECT coalesce((SELECT sum(credits) FROM usage_rollups_monthly WHERE organization_id = $1), 0)::text AS monthly,
            coalesce((SELECT sum(credits) FROM usage_rollups_daily WHERE organization_id = $1), 0)::text AS daily`,
    [orgId],
  );
  expect({ monthly: exact(rollups.monthly), daily: exact(rollups.daily) }).toEqual({ monthly: exact(events.credits), daily: exact(events.credits) });
  expect(balances.events).toBe(events.n + reserved.n);
  // Money recorded with the debits (SPEC 4): the balance's overage cost is the sum of its records, exactly.
  const [cost] = await ds.query(`SELECT ($1::numeric = $2::numeric + $3::numeric) AS equal`, [balances.overage_cost, events.overage_cost, reserved.overage_cost]);
  expect({ balance: balances.overage_cost, ledger: events.overage_cost, reserved: reserved.overage_cost, equal: cost.equal }).toMatchObject({ equal: true });
  // Every count-limit counter equals what counts toward it: recorded events and pending holds, per period
  // and limit name (a hold counted once, however often it was extended).
  const counters = await ds.query(
    `WITH counted AS (
        SELECT organization_id, period_start, name, count(*) AS n
          FROM (SELECT organization_id, period_start, limit_key FROM usage_events WHERE organization_id = $1 AND limit_key IS NOT NULL
                UNION ALL
                SELECT organization_id, period_start, limit_key FROM reservations WHERE organization_id = $1 AND status = 'pending' AND limit_key IS NOT NULL) AS x
          CROSS JOIN LATERAL unnest(string_to_array(x.limit_key, ',')) AS name
         GROUP BY 1, 2, 3)
     SELECT coalesce(c.period_start, counted.period_start)::text AS period, coalesce(c.limit_name, counted.name) AS name,
            coalesce(c.used, 0)::int AS used, coalesce(counted.n, 0)::int AS ledger
       FROM (SELECT * FROM period_limit_counts WHERE organization_id = $1) AS c
       FULL JOIN counted ON counted.period_start = c.period_start AND counted.name = c.limit_name
      WHERE coalesce(c.used, 0) <> coalesce(counted.n, 0)`,
    [orgId],
  );
  expect(counters).toEqual([]);
  // A "now" downgrade keeps what was used (SPEC 4), so only then may a period's use stand above its allowance.
  if (!options.downgradedBelowUse) {
    const over = await ds.query(`SELECT * FROM period_balances WHERE organization_id = $1 AND allowance_used > allowance`, [orgId]);
    expect(over).toEqual([]);
  }
  const grants = await ds.query(
    `SELECT g.id, g.amount - g.remaining AS used,
            coalesce((SELECT sum(c.credits) FROM grant_consumptions c WHERE c.organization_id = g.organization_id AND c.grant_id = g.id), 0)
          + coalesce((SELECT sum((t->>'credits')::numeric) FROM reservations r, jsonb_array_elements(r.grant_takes) t
                       WHERE r.organization_id = g.organization_id AND r.status = 'pending' AND (t->>'grantId')::uuid = g.id), 0) AS consumed
       FROM credit_grants g WHERE g.organization_id = $1`,
    [orgId],
  );
  for (const g of grants) expect(new Big(g.used).toString()).toBe(new Big(g.consumed).toString());
}

/**
 * The agent runs' invariant: each run's `used` (what its budget counts) is exactly what the ledger charged to
 * it and its descendants (accepted events) plus what they hold (pending reservations), and no run with a
 * budget stands above it.
 */
export async function expectRunsConsistent(ds: DataSource, orgId: string): Promise<void> {
  const rows = (await ds.query(
    `SELECT r.id, r.used::text AS used, r.budget::text AS budget,
            (coalesce((SELECT sum(e.credits) FROM usage_events e WHERE e.organization_id = r.organization_id
                        AND e.run_id IN (SELECT s.id FROM runs s WHERE s.organization_id = r.organization_id AND s.path @> ARRAY[r.id])), 0)
             + coalesce((SELECT sum(h.credits) FROM reservations h WHERE h.organization_id = r.organization_id AND h.status = 'pending'
                        AND h.run_id IN (SELECT s.id FROM runs s WHERE s.organization_id = r.organization_id AND s.path @> ARRAY[r.id])), 0))::text AS ledger
       FROM runs r WHERE r.organization_id = $1 ORDER BY r.id`,
    [orgId],
  )) as Array<{ id: string; used: string; budget: string | null; ledger: string }>;
  for (const r of rows) {
    expect({ run: r.id, used: new Big(r.used).toString() }).toEqual({ run: r.id, used: new Big(r.ledger).toString() });
    if (r.budget !== null) expect({ run: r.id, within: new Big(r.used).lte(r.budget) }).toEqual({ run: r.id, within: true });
  }
}
