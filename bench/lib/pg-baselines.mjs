// Raw PostgreSQL figures measured in the same run as the service, on the same server and machine: the
// baselines the service's figures are compared with (STACK.md's anchors, re-measured under today's noise).
import pg from 'pg';
import { round } from './http.mjs';

async function clients(url, n) {
  const list = Array.from({ length: n }, () => new pg.Client({ connectionString: url }));
  await Promise.all(list.map((c) => c.connect()));
  return list;
}

async function forDuration(list, seconds, step) {
  const deadline = performance.now() + seconds * 1000;
  const counts = await Promise.all(
    list.map(async (c, i) => {
      let n = 0;
      while (performance.now() < deadline) n += await step(c, i);
      return n;
    }),
  );
  return counts.reduce((a, b) => a + b, 0);
}

/** Conditional debits of one hot row, one autocommit transaction each (the ~5,000/s anchor). */
export async function hotRowUpdates(url, { clients: n = 8, seconds = 5 } = {}) {
  const list = await clients(url, n);
  try {
    await list[0].query(`CREATE TABLE IF NOT EXISTS bench_hot_row (id int PRIMARY KEY, remaining numeric(18,2) NOT NULL)`);
    await list[0].query(`INSERT INTO bench_hot_row VALUES (1, 1000000000) ON CONFLICT (id) DO UPDATE SET remaining = 1000000000`);
    const t0 = performance.now();
    const done = await forDuration(list, seconds, async (c) => {
      const r = await c.query(`UPDATE bench_hot_row SET remaining = remaining - 8 WHERE id = 1 AND remaining >= 8 RETURNING remaining`);
      return r.rowCount;
    });
    const perS = done / ((performance.now() - t0) / 1000);
    await list[0].query(`DROP TABLE bench_hot_row`);
    return { what: `conditional UPDATE of one row, ${n} clients, autocommit`, clients: n, seconds, perS: round(perS, 0) };
  } finally {
    await Promise.all(list.map((c) => c.end()));
  }
}

/**
 * `INSERT … SELECT FROM unnest(…)` of `rows` ledger-like rows per statement into a scratch copy of
 * usage_events' columns (no partitioning; the same primary key and index), from `n` clients.
 */
export async function unnestInserts(url, { clients: n = 4, seconds = 5, rows = 1000 } = {}) {
  const list = await clients(url, n);
  try {
    await list[0].query(`
      CREATE TABLE IF NOT EXISTS bench_unnest_events (
        organization_id text NOT NULL, occurred_at timestamptz NOT NULL, id uuid NOT NULL, period_start date NOT NULL,
        event_type text NOT NULL, credits numeric(18,2) NOT NULL, breakdown jsonb NOT NULL,
        PRIMARY KEY (organization_id, occurred_at, id))`);
    await list[0].query(`CREATE INDEX IF NOT EXISTS bench_unnest_events_period_idx ON bench_unnest_events (organization_id, period_start, occurred_at)`);
    const breakdown = JSON.stringify({ baseCredits: 8, complexity: 1, complexitySource: 'derived', factor: 1, featureBonuses: {}, total: 8, version: 1 });
    const t0 = performance.now();
    const done = await forDuration(list, seconds, async (c, i) => {
      const org = `org-${i}`;
      const now = new Date().toISOString();
      await c.query(
        `INSERT INTO bench_unnest_events (organization_id, occurred_at, id, period_start, event_type, credits, breakdown)
         SELECT $1, $2::timestamptz + (g * interval '1 microsecond'), gen_random_uuid(), date_trunc('month', $2::timestamptz)::date, 'visuals_planning', c, $4::jsonb
           FROM unnest($3::numeric[]) WITH ORDINALITY AS u(c, g)`,
        [org, now, Array.from({ length: rows }, () => '8'), breakdown],
      );
      return rows;
    });
    const perS = done / ((performance.now() - t0) / 1000);
    await list[0].query(`DROP TABLE bench_unnest_events`);
    return { what: `INSERT … SELECT FROM unnest, ${rows} rows a statement, ${n} clients`, clients: n, seconds, perS: round(perS, 0) };
  } finally {
    await Promise.all(list.map((c) => c.end()));
  }
}

/** NOTIFY on one connection to LISTEN on another: the floor under cross-instance invalidation. */
export async function notifyLatency(url, { samples = 50 } = {}) {
  const [listener, notifier] = await clients(url, 2);
  try {
    await listener.query('LISTEN bench_latency');
    const times = [];
    for (let i = 0; i < samples; i++) {
      const got = new Promise((resolve) => listener.once('notification', resolve));
      const t0 = performance.now();
      await notifier.query(`NOTIFY bench_latency, '${i}'`);
      await got;
      times.push(performance.now() - t0);
    }
    return times;
  } finally {
    await Promise.all([listener.end(), notifier.end()]);
  }
}
