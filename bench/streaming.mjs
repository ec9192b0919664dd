// What a streamed @TrackUsage call costs the service (docs/streaming.md): CPU per chunk and per extension.
//
//   node bench/streaming.mjs        (or: npm run bench -- streaming; not in the default set)
//
// One service (LLM_STREAM_CHUNK_MS=0: the stand-in model does not wait between chunks, so the figures are the
// metering's and the serialisation's, not the model's), the stand-in POST /api/llm/complete driven by
// BENCH_STREAM_CONCURRENCY workers (default 8), BENCH_STREAM_CALLS calls each scenario (default 300):
//   - baseline: the same route not streamed (one JSON answer: reserve, handler, commit), in the same run;
//   - stream, 1 chunk: maxTokens 16 (hold, one chunk, commit: the fixed cost of a stream);
//   - stream, 16 chunks: maxTokens 256 (the first step holds it all: no extension);
//   - stream, 125 chunks: maxTokens 2000 (steps of 256: 7 extensions);
//   - extend over the API: POST …/reservations/:id/extend, each growing the hold by 16 tokens.
// Per chunk = (16 chunks - 1 chunk) / 15; per extension = (125 chunks - 1 chunk - 124 x per chunk) / 7. Service
// and PostgreSQL CPU are measured per process (bench/lib/service.mjs cpuMeter). The ledger is checked after.
import { api, createOrganizations, round } from './lib/http.mjs';
import { backendPids, checkLedger } from './lib/ledger.mjs';
import { printTable, writeResults } from './lib/report.mjs';
import { ADMIN_KEY, cpuMeter, envInt, runWhenMain, withService } from './lib/service.mjs';

const PROMPT = 'Summarize the incident report in three bullet points.';

export async function run() {
  const calls = envInt('BENCH_STREAM_CALLS', 300);
  const concurrency = envInt('BENCH_STREAM_CONCURRENCY', 8);
  return withService(
    async ({ svc, sql }) => {
      const orgs = await createOrganizations(svc.baseUrl, Array.from({ length: 20 }, (_, i) => `stream-${String(i).padStart(2, '0')}`));
      const headers = (n) => ({ authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json', 'x-organization-id': orgs[n % orgs.length] });
      /** One call; a streamed one is read to its end and must finish with a `usage` event that says complete. */
      const call = async (n, body) => {
        const res = await fetch(`${svc.baseUrl}/api/llm/complete`, { method: 'POST', headers: headers(n), body: JSON.stringify(body) });
        const text = await res.text();
        if (res.status !== 200) throw new Error(`${res.status}: ${text.slice(0, 300)}`);
        if (body.stream && !text.includes('"stopReason":"complete"')) throw new Error(`a stream did not complete: ${text.slice(-300)}`);
      };
      const scenario = async (key, title, once) => {
        // A few calls first: the route's code paths warmed before the meter starts.
        for (let i = 0; i < 10; i++) await once(i);
        const cpu = cpuMeter([svc.pid], sql ? backendPids(sql) : undefined);
        const started = performance.now();
        let next = 0;
        await Promise.all(
          Array.from({ length: concurrency }, async () => {
            for (let n = next++; n < calls; n = next++) await once(n);
          }),
        );
        const ms = performance.now() - started;
        const used = await cpu.end();
        const perCall = (cores) => round((cores * used.seconds * 1000) / calls, 3);
        return { key, title, calls, seconds: round(ms / 1000, 2), callsPerS: round((calls * 1000) / ms, 1), serviceMsPerCall: perCall(used.serviceCores), postgresMsPerCall: perCall(used.postgresCores), cpu: used };
      };

      const results = {};
      results.plain = await scenario('plain', 'not streamed, maxTokens 256 (baseline)', (n) => call(n, { prompt: PROMPT, maxTokens: 256 }));
      results.one = await scenario('one', 'streamed, 1 chunk (maxTokens 16)', (n) => call(n, { prompt: PROMPT, maxTokens: 16, stream: true }));
      results.sixteen = await scenario('sixteen', 'streamed, 16 chunks, no extension (maxTokens 256)', (n) => call(n, { prompt: PROMPT, maxTokens: 256, stream: true }));
      results.long = await scenario('long', 'streamed, 125 chunks, 7 extensions (maxTokens 2000)', (n) => call(n, { prompt: PROMPT, maxTokens: 2000, stream: true }));

      // The verb on its own, over the API: one hold per worker, each call 16 tokens more.
      const holds = await Promise.all(
        Array.from({ length: concurrency }, async (_, w) => {
          const r = await api(svc.baseUrl, 'POST', `/api/organizations/${orgs[w]}/usage/reservations`, { eventType: 'llm_completion', eventData: { units: { inputTokens: 10, outputTokens: 16 } } });
          return { org: orgs[w], id: r.body.reservationId, output: 16 };
        }),
      );
      results.extend = await scenario('extend', 'POST …/reservations/:id/extend (+16 tokens)', async (n) => {
        const hold = holds[n % holds.length];
        hold.output += 16;
        await api(svc.baseUrl, 'POST', `/api/organizations/${hold.org}/usage/reservations/${hold.id}/extend`, { eventData: { units: { inputTokens: 10, outputTokens: hold.output } } }, { expect: [200] });
      });
      for (const h of holds) await api(svc.baseUrl, 'POST', `/api/organizations/${h.org}/usage/reservations/${h.id}/release`, {});

      const perChunk = round((results.sixteen.serviceMsPerCall - results.one.serviceMsPerCall) / 15, 4);
      const perExtension = round((results.long.serviceMsPerCall - results.one.serviceMsPerCall - 124 * perChunk) / 7, 4);
      const perChunkPg = round((results.sixteen.postgresMsPerCall - results.one.postgresMsPerCall) / 15, 4);
      const perExtensionPg = round((results.long.postgresMsPerCall - results.one.postgresMsPerCall - 124 * perChunkPg) / 7, 4);
      printTable(
        `Streamed calls: ${calls} calls a scenario, ${concurrency} at a time, service CPU per call`,
        ['scenario', 'calls/s', 'service ms/call', 'postgres ms/call', 'vs not streamed (service)'].map((title) => ({ title })),
        Object.values(results).map((r) => [r.title, r.callsPerS, r.serviceMsPerCall, r.postgresMsPerCall, round(r.serviceMsPerCall / results.plain.serviceMsPerCall, 2)]),
      );
      printTable('Derived', ['what', 'service ms', 'postgres ms'].map((title) => ({ title })), [
        ['per chunk (16 tokens: count, SSE, write)', perChunk, perChunkPg],
        ['per extension, inside a stream', perExtension, perExtensionPg],
        ['per extension over the API (HTTP included)', results.extend.serviceMsPerCall, results.extend.postgresMsPerCall],
        ['fixed cost of a stream over a plain call', round(results.one.serviceMsPerCall - results.plain.serviceMsPerCall, 3), round(results.one.postgresMsPerCall - results.plain.postgresMsPerCall, 3)],
      ]);
      const ledger = sql ? await checkLedger(sql) : { ok: true, skipped: true };
      const summary = { perChunkServiceMs: perChunk, perExtensionServiceMs: perExtension, extendApiServiceMs: results.extend.serviceMsPerCall, plainServiceMs: results.plain.serviceMsPerCall, ledgerOk: ledger.ok };
      writeResults('streaming', { config: { calls, concurrency, chunkTokens: 16, stepTokens: 256, startupMs: svc.startupMs }, results, derived: { perChunk, perExtension, perChunkPg, perExtensionPg }, ledger, summary });
      return summary;
    },
    { env: { LLM_STREAM_CHUNK_MS: '0' }, dbPrefix: 'bench_stream' },
  );
}

runWhenMain(import.meta.url, run, (s) => s.ledgerOk);
