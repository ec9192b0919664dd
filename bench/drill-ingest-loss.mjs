// Drill: nothing lost on the asynchronous paths.   `node bench/drill-ingest-loss.mjs` (or `npm run bench -- ingest-loss`)
//
// The measurement, repeated: BENCH_LOSS_ROUNDS=3 rounds on one fresh PostgreSQL database, each of
// BENCH_LOSS_CALLS=600 calls sent by BENCH_LOSS_CLIENTS=6 clients: single calls to the asynchronous
// @TrackUsage route POST /api/push/sow-to-loe (each with its own Idempotency-Key) and, one call in ten, an
// asynchronous batch (POST …/usage/events, Prefer: respond-async) of 10 events with their own keys. A third
// of the way through a round the instance is killed with SIGKILL and started again on the same port; a call
// that got no answer is not retried (it was never acknowledged). Organizations: 6 on enterprise and 2 on the
// free plan (their events past the allowance are refused when written: kept, never charged).
// Then, once the queue is empty: every event answered 200/202 is in the ledger exactly once (usage_events
// or refused_events), nothing else is, and the ledger checks hold (balances = ledger). Exits 1 on a loss.
import { createOrganizations } from './lib/http.mjs';
import { checkLedger } from './lib/ledger.mjs';
import { fmt, printTable, writeResults } from './lib/report.mjs';
import { ADMIN_KEY, assertBuilt, backgroundLoad, createDatabase, envInt, isMain, pool, runContext, sleep, startService } from './lib/service.mjs';

const headers = { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' };

async function call(baseUrl, i, r, org) {
  if (i % 10 === 0) {
    const keys = Array.from({ length: 10 }, (_, j) => `loss-r${r}-b${i}-${j}`);
    const res = await fetch(`${baseUrl}/api/organizations/${org}/usage/events`, {
      method: 'POST',
      headers: { ...headers, prefer: 'respond-async' },
      body: JSON.stringify({ events: keys.map((k) => ({ eventType: 'push_sow_to_loe', idempotencyKey: k })) }),
      signal: AbortSignal.timeout(10_000),
    });
    await res.arrayBuffer();
    return { keys, status: res.status, acked: res.status === 202, route: 'batch' };
  }
  const key = `loss-r${r}-s${i}`;
  const res = await fetch(`${baseUrl}/api/push/sow-to-loe`, { method: 'POST', headers: { ...headers, 'x-organization-id': org, 'idempotency-key': key }, body: JSON.stringify({ i }), signal: AbortSignal.timeout(10_000) });
  await res.arrayBuffer();
  return { keys: [key], status: res.status, acked: res.status === 200, route: 'single' };
}

async function round(r, state, { calls, clients, orgs }) {
  const outcomes = [];
  let next = 0;
  let crash;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (let i = next++; i < calls; i = next++) {
        if (i === Math.floor(calls / 3)) {
          const old = state.svc;
          const inFlight = outcomes.length;
          crash = old.kill9().then(async () => {
            const killedAt = Date.now();
            state.svc = await startService({ databaseUrl: state.db.url, port: old.port });
            return { atCall: i, answeredBefore: inFlight, downMs: Date.now() - killedAt };
          });
        }
        const org = orgs[i % orgs.length];
        try {
          outcomes.push({ org, ...(await call(state.svc.baseUrl, i, r, org)) });
        } catch {
          outcomes.push({ org, keys: [], status: 0, acked: false });
          // The instance is down: wait for it to be back (the calls after the restart still test it).
          if (crash) await crash.catch(() => undefined);
          else await sleep(20);
        }
      }
    }),
  );
  return { outcomes, crash: await crash };
}

async function verify(sql, outcomes, r) {
  for (let waited = 0; ; waited += 200) {
    const { rows } = await sql.query(`SELECT count(*)::int AS n FROM ingest_queue`);
    if (rows[0].n === 0) break;
    if (waited > 120_000) throw new Error(`${rows[0].n} events still waiting after 2 minutes`);
    await sleep(200);
  }
  const { rows } = await sql.query(
    `SELECT organization_id || '/' || idempotency_key AS k, count(*)::int AS n, bool_or(refused) AS refused FROM (
       SELECT organization_id, idempotency_key, false AS refused FROM usage_events WHERE idempotency_key LIKE $1
       UNION ALL SELECT organization_id, idempotency_key, true FROM refused_events WHERE idempotency_key LIKE $1) x GROUP BY 1`,
    [`loss-r${r}-%`],
  );
  const recorded = new Map(rows.map((x) => [x.k, x]));
  const acked = outcomes.filter((o) => o.acked).flatMap((o) => o.keys.map((k) => `${o.org}/${k}`));
  const missing = acked.filter((k) => !recorded.has(k));
  const twice = rows.filter((x) => x.n > 1).map((x) => x.k);
  const refused = acked.filter((k) => recorded.get(k)?.refused).length;
  const ackedSet = new Set(acked);
  const unacknowledgedRecorded = rows.filter((x) => !ackedSet.has(x.k)).length;
  return { acked: acked.length, recorded: rows.length, missing, twice, refused, unacknowledgedRecorded };
}

export async function run() {
  assertBuilt();
  runContext.backgroundBusyCores = await backgroundLoad();
  const rounds = envInt('BENCH_LOSS_ROUNDS', 3);
  const calls = envInt('BENCH_LOSS_CALLS', 600);
  const clients = envInt('BENCH_LOSS_CLIENTS', 6);
  const db = await createDatabase('drill_loss');
  const state = { db, svc: undefined };
  const sql = pool(db.url);
  try {
    state.svc = await startService({ databaseUrl: db.url });
    const orgs = [
      ...(await createOrganizations(state.svc.baseUrl, Array.from({ length: 6 }, (_, i) => `loss-${i}`))),
      ...(await createOrganizations(state.svc.baseUrl, ['loss-free-0', 'loss-free-1'], 'free')),
    ];
    const results = [];
    for (let r = 1; r <= rounds; r++) {
      const { outcomes, crash } = await round(r, state, { calls, clients, orgs });
      const check = await verify(sql, outcomes, r);
      const ledger = await checkLedger(sql);
      const answered = outcomes.filter((o) => o.acked);
      const ok = check.missing.length === 0 && check.twice.length === 0 && ledger.ok;
      results.push({ round: r, crash, calls: outcomes.length, answeredCalls: answered.length, noAnswer: outcomes.filter((o) => o.status === 0).length, other: outcomes.filter((o) => o.status !== 0 && !o.acked).map((o) => o.status), ...check, missing: check.missing.length, twice: check.twice.length, ledgerOk: ledger.ok, ok });
      console.log(`round ${r}: killed at call ${crash.atCall}, back after ${fmt(crash.downMs)} ms; ${fmt(check.acked)} events acknowledged, ${check.missing.length} missing, ${check.twice.length} twice`);
    }
    printTable(
      `Ingest loss drill: ${rounds} rounds of ${calls} calls, ${clients} clients, SIGKILL a third of the way through`,
      [{ title: 'round' }, { title: 'down ms' }, { title: 'calls answered / no answer' }, { title: 'events acknowledged' }, { title: 'in ledger' }, { title: 'of them refused' }, { title: 'missing' }, { title: 'twice' }, { title: 'unacked but recorded' }, { title: 'balances = ledger' }, { title: 'verdict' }],
      results.map((x) => [x.round, fmt(x.crash.downMs), `${x.answeredCalls} / ${x.noAnswer}`, x.acked, x.recorded, x.refused, x.missing, x.twice, x.unacknowledgedRecorded, x.ledgerOk ? 'yes' : 'NO', x.ok ? 'PASS' : 'FAIL']),
    );
    const ok = results.every((x) => x.ok);
    writeResults('drill-ingest-loss', { config: { rounds, calls, clients, organizations: orgs }, results, ok });
    return { ok, rounds: results.map((x) => ({ acked: x.acked, missing: x.missing, twice: x.twice, refused: x.refused })) };
  } finally {
    await state.svc?.stop(10_000).catch(() => undefined);
    await sql.end().catch(() => undefined);
    await db.drop().catch(() => undefined);
  }
}

if (isMain(import.meta.url)) {
  const { ok } = await run();
  process.exit(ok ? 0 : 1);
}
