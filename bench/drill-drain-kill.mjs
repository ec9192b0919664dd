// Drill: a backlog drained with claims ahead and write lanes, the draining instance killed (SIGKILL) in the
// middle, then started again: every queued event ends in the ledger exactly once and the ledger checks hold.
//   npm run build && node bench/drill-drain-kill.mjs   (BENCH_INGEST_BACKLOG=50000, BENCH_KILLS=3 kills,
//   BENCH_KILL_EVERY_MS=1500 after each start, BENCH_INGEST_BATCH=5000)
import { createOrganizations } from './lib/http.mjs';
import { checkLedger } from './lib/ledger.mjs';
import { fmt } from './lib/report.mjs';
import { envInt, isMain, sleep, startService, withService } from './lib/service.mjs';

export async function run() {
  const backlog = envInt('BENCH_INGEST_BACKLOG', 50_000);
  const kills = envInt('BENCH_KILLS', 3);
  const every = envInt('BENCH_KILL_EVERY_MS', 1500);
  const env = { INGEST_DRAINERS: '2', ASYNC_BATCH_SIZE: String(envInt('BENCH_INGEST_BATCH', 5000)), INGEST_LEASE_SECONDS: '2' };
  return withService(
    async ({ db, svc, sql }) => {
      await createOrganizations(svc.baseUrl, Array.from({ length: 64 }, (_, i) => `ingest-${String(i).padStart(2, '0')}`));
      await sql.query(
        `INSERT INTO ingest_queue (id, organization_id, payload, bytes, enqueued_at)
         SELECT o || ':fill-' || g, o, jsonb_build_object('organizationId', o, 'eventType', 'push_sow_to_loe', 'eventData', '{}'::jsonb, 'idempotencyKey', 'fill-' || g, 'acceptedAt', now()), 120, now()
           FROM generate_series(1, $1::int) g, LATERAL (SELECT 'ingest-' || lpad(((g % 64))::text, 2, '0') AS o) x`,
        [backlog],
      );
      for (let k = 0; k < kills; k++) {
        const drainer = await startService({ databaseUrl: db.url, env });
        await sleep(every);
        await drainer.kill9();
        const [{ n }] = (await sql.query(`SELECT count(*)::int AS n FROM usage_events`)).rows;
        console.log(`kill ${k + 1}: ${fmt(n)} events written so far`);
      }
      const drainer = await startService({ databaseUrl: db.url, env });
      for (;;) {
        const [{ n }] = (await sql.query(`SELECT count(*)::int AS n FROM ingest_queue`)).rows;
        if (n === 0) break;
        await sleep(200);
      }
      await drainer.stop(10_000);
      const [{ rows, keys }] = (await sql.query(`SELECT count(*)::int AS rows, count(DISTINCT (organization_id, idempotency_key))::int AS keys FROM usage_events`)).rows;
      const ledger = await checkLedger(sql);
      const ok = rows === backlog && keys === backlog && ledger.ok;
      console.log(`ledger rows ${fmt(rows)}, distinct keys ${fmt(keys)}, queued ${fmt(backlog)}; ledger checks ${ledger.ok ? 'hold' : JSON.stringify(ledger.checks.filter((c) => !c.ok).map((c) => c.name))}: ${ok ? 'PASS' : 'FAIL'}`);
      if (!ok) process.exitCode = 1;
      return { ok, rows, keys, backlog };
    },
    { env: { INGEST_DRAINERS: '0', INGEST_MAX_MESSAGES: '10000000' }, dbPrefix: 'bench_drainkill' },
  );
}

if (isMain(import.meta.url)) await run();
