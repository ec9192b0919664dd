import { apiPath } from '../api';
import { describeError } from '../context';
import type { ViewContext } from '../context';
import { card, fill, h, loading, table, toast } from '../dom';
import { formatDateTime, formatInt } from '../format';
import { alertMeaning } from '../alerts';
import type { JobRun, JobsOverview, ReconciliationAlert } from '../types';

function statusBadge(run: JobRun | null): HTMLElement {
  if (!run) return h('span', { class: 'badge' }, 'never run');
  const kind = run.status === 'succeeded' ? ' good' : run.status === 'failed' ? ' bad' : '';
  return h('span', { class: `badge${kind}` }, run.status);
}

export async function renderJobs(ctx: ViewContext): Promise<void> {
  const { api, main } = ctx;
  const jobsBody = h('div', { class: 'card-body' }, loading());
  const alertsBody = h('div', { class: 'card-body' });
  const refresh = h('button', { type: 'button', class: 'secondary small' }, 'Reload');
  fill(
    main,
    h('div', { class: 'page-head' }, h('h1', null, 'Jobs'), h('p', { class: 'subtitle' }, 'Scheduled work: partitions, period close, rollups, ledger reconciliation. Each run is recorded; run one now when needed.')),
    h('div', { class: 'grid' }, card('Jobs and their runs', { id: 'jobs', wide: true, actions: refresh }, jobsBody), card('Reconciliation alerts', { id: 'alerts', wide: true }, alertsBody)),
  );

  const load = async () => {
    let overview: JobsOverview;
    try {
      overview = await api.get<JobsOverview>(apiPath('admin', 'jobs'));
    } catch (error) {
      fill(jobsBody, h('p', { class: 'error', role: 'alert' }, describeError(error)));
      return;
    }
    const rows = overview.jobs.map((job) => {
      const run = h('button', { type: 'button', class: 'small', 'data-run': job.name, 'aria-label': `Run now: ${job.name}` }, 'Run now');
      run.addEventListener('click', async () => {
        run.disabled = true;
        try {
          const result = await api.post<JobRun>(apiPath('admin', 'jobs', job.name, 'run'), {});
          toast(`${job.name}: ${result.status}${result.rows === null ? '' : `, ${formatInt(result.rows)} rows`} in ${result.durationMs ?? 0} ms.`, result.status === 'failed' ? 'error' : 'ok');
          await load();
        } catch (error) {
          toast(describeError(error), 'error');
        } finally {
          run.disabled = false;
        }
      });
      const recent = h(
        'details',
        null,
        h('summary', null, `${job.recentRuns.length} recent runs`),
        table(
          `Recent runs of ${job.name}`,
          ['Started', 'Trigger', 'Status', { text: 'Duration', numeric: true }, { text: 'Rows', numeric: true }, 'Error'],
          job.recentRuns.map((r) => [formatDateTime(r.startedAt), r.trigger, statusBadge(r), r.durationMs === null ? '–' : `${r.durationMs} ms`, r.rows === null ? '–' : formatInt(r.rows), r.error ?? '']),
          { empty: 'No runs yet.' },
        ),
      );
      return [
        h('span', null, h('code', null, job.name), h('br'), h('span', { class: 'muted' }, job.description)),
        h('code', null, job.scheduled ? job.schedule : `${job.schedule} (not scheduled here)`),
        h('span', { 'data-testid': `last-run-${job.name}` }, statusBadge(job.lastRun), job.lastRun ? ` ${formatDateTime(job.lastRun.startedAt)} · ${job.lastRun.trigger}` : ''),
        recent,
        run,
      ];
    });
    // Asynchronous ingestion is drained continuously by every instance: its lag, next to the jobs.
    const ingest = overview.ingest;
    const behind = ingest.oldestAgeMs > ingest.alertAfterSeconds * 1000;
    fill(
      jobsBody,
      h('p', { class: 'muted' }, `Instance ${overview.instanceId} · jobs ${overview.jobsEnabled ? 'enabled' : 'disabled'} here.`),
      h(
        'p',
        { id: 'ingest-lag', class: behind ? 'warning over' : 'muted' },
        `Asynchronous ingestion (${ingest.store} queue): ${formatInt(ingest.waiting)} events waiting (of at most ${formatInt(ingest.maxMessages)}, ${formatInt(ingest.waitingBytes)} bytes), the oldest ${(ingest.oldestAgeMs / 1000).toFixed(1)} s old${behind ? `: behind (alert past ${ingest.alertAfterSeconds} s)` : ''}; ${ingest.drainersHere} drainers on this instance.`,
      ),
      table('Jobs', ['Job', 'Schedule (UTC cron)', 'Last run', 'History', 'Run'], rows, { id: 'jobs-table' }),
    );
    await loadAlerts(overview.alerts.open);
  };
  // Open and resolved alerts (a repaired rollup is recorded resolved), each with what it means.
  const loadAlerts = async (open: number) => {
    try {
      const alerts = (await api.get<{ items: ReconciliationAlert[] }>(apiPath('admin', 'jobs', 'alerts'), { status: 'all', limit: 50 })).items;
      fill(
        alertsBody,
        h('p', { id: 'alerts-summary', class: open > 0 ? 'warning over' : 'muted' }, open > 0 ? `${open} open ${open === 1 ? 'alert' : 'alerts'}: the ledger does not reconcile for the organizations below.` : 'No open alerts: the ledger reconciles.'),
        table(
          'Reconciliation alerts, latest first',
          ['Alert', 'What it means', 'Organization', 'Period', 'Status', 'Seen', 'Details'],
          alerts.map((a) => {
            const m = alertMeaning(a.kind);
            return [
              h('span', { 'data-alert-kind': a.kind }, h('span', { class: `badge ${m.severity === 'critical' ? 'bad' : m.severity === 'warning' ? 'warn' : ''}` }, m.severity), ' ', h('strong', null, m.title), h('br'), h('code', { class: 'muted' }, a.kind)),
              h('span', null, m.meaning, ' ', h('em', null, m.action)),
              h('a', { href: `#/org/${encodeURIComponent(a.organizationId)}` }, a.organizationId),
              a.period ?? '–',
              h('span', { class: `badge${a.status === 'resolved' ? ' good' : ' bad'}` }, a.status === 'resolved' ? `resolved${a.resolution ? `: ${a.resolution}` : ''}` : 'open'),
              `${formatDateTime(a.firstSeenAt)}${a.lastSeenAt !== a.firstSeenAt ? ` – ${formatDateTime(a.lastSeenAt)}` : ''}`,
              h('code', { class: 'details' }, Object.entries(a.details).map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' · ')),
            ];
          }),
          { id: 'alerts-table', empty: 'The reconciliation has raised no alert yet.' },
        ),
      );
    } catch (error) {
      fill(alertsBody, h('p', { class: 'error', role: 'alert' }, describeError(error)));
    }
  };
  refresh.addEventListener('click', () => void load());
  await load();
}
