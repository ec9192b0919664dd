// The organization page's "Agent runs" card: the top-level runs with their subtree's spend, a budget bar, and
// each run expandable (fetched when opened) into its own events by type and its child runs, themselves
// expandable the same way. Credit figures are the API's decimal strings, shown exactly.
import { apiPath } from '../api';
import { describeError } from '../context';
import type { ViewContext } from '../context';
import { h, scrollBox } from '../dom';
import { formatCreditAmount, formatDateTime, formatInt, plural } from '../format';
import { budgetShare } from '../money';
import type { RunList, RunSummary, RunView } from '../types';

/** Runs a page: enough to see an agent's recent work at once, small enough for a nested list. */
export const RUNS_PAGE = 10;
const COLUMNS = 8;

/** The card's body: the top-level runs. A failed first page throws (the card shows the error in its place). */
export async function runsBody(ctx: ViewContext, orgId: string): Promise<HTMLElement> {
  return h(
    'div',
    null,
    h(
      'p',
      { class: 'muted' },
      "Each run's spend includes its child runs'; what it holds (pending reservations) counts against its budget until settled. Open a run to see its own events by type and its child runs.",
    ),
    await runsList(ctx, orgId, null),
  );
}

/** One level of runs (top-level, or one run's children), a page at a time over the API's cursor. */
async function runsList(ctx: ViewContext, orgId: string, parent: RunSummary | null): Promise<HTMLElement> {
  const path = apiPath('organizations', orgId, 'runs');
  const first = await ctx.api.get<RunList>(path, { parentRunId: parent?.id, limit: RUNS_PAGE });
  const scope = parent ? `child runs of ${runName(parent)}` : 'agent runs';
  if (first.items.length === 0) {
    return h(
      'p',
      { class: 'muted empty', 'data-testid': parent ? 'run-children-empty' : 'runs-empty' },
      parent ? 'No child runs.' : 'No agent runs yet. A run gives an agent a budget of its own: create one with POST /api/organizations/:orgId/runs and send its id as X-Run-Id with each call.',
    );
  }
  const rows = h('tbody');
  const status = h('p', { class: 'muted runs-status', role: 'status' });
  const failure = h('p', { class: 'error', role: 'alert', hidden: true });
  const more = h('button', { type: 'button', class: 'secondary small runs-more' }, 'Load more');
  let cursor: string | null = null;
  let shown = 0;
  const add = (page: RunList) => {
    for (const run of page.items) rows.append(...runRows(ctx, orgId, run));
    shown += page.items.length;
    cursor = page.nextCursor;
    more.hidden = !cursor;
    status.textContent = `${plural(shown, parent ? 'child run' : 'run')} shown, newest first${cursor ? ', more available' : ''}.`;
  };
  more.addEventListener('click', async () => {
    more.disabled = true;
    failure.hidden = true;
    try {
      add(await ctx.api.get<RunList>(path, { parentRunId: parent?.id, limit: RUNS_PAGE, before: cursor }));
    } catch (error) {
      // Shown where the next runs would be; the button stays for a retry.
      failure.hidden = false;
      failure.textContent = `The next runs could not be loaded: ${describeError(error)}`;
    } finally {
      more.disabled = false;
    }
  });
  add(first);
  const headers: [string, boolean][] = [
    ['Run', false],
    ['Status', false],
    ['Budget', true],
    ['Spent (incl. children)', true],
    ['Held', true],
    ['Remaining', true],
    ['Budget used', false],
    ['Child runs', true],
  ];
  return h(
    'div',
    { class: 'runs-list', 'data-parent-run': parent?.id ?? null },
    h(
      'div',
      scrollBox(scope),
      h(
        'table',
        { class: 'runs-table', id: parent ? null : 'runs-table' },
        h('caption', { class: 'sr-only' }, `${scope[0].toUpperCase()}${scope.slice(1)}, newest first`),
        h('thead', null, h('tr', null, headers.map(([text, numeric]) => h('th', { scope: 'col', class: numeric ? 'num' : null }, text)))),
        rows,
      ),
    ),
    status,
    failure,
    more,
  );
}

function runName(run: { id: string; label: string | null }): string {
  return run.label ?? `run ${run.id.slice(0, 8)}`;
}

function statusBadge(run: RunSummary): HTMLElement {
  if (run.status === 'open') return h('span', { class: 'badge good', 'data-testid': 'run-status' }, 'open');
  const expired = run.closedReason === 'expired';
  return h('span', { class: `badge${expired ? ' warn' : ''}`, 'data-testid': 'run-status', title: run.closedAt ? `closed ${formatDateTime(run.closedAt)}` : null }, expired ? 'expired' : 'closed');
}

/** Spent (solid) and held (hatched) against the budget; "no budget" when the run has none of its own. */
function budgetBar(run: RunSummary): HTMLElement {
  const share = budgetShare(run.spentCredits, run.heldCredits, run.budgetCredits);
  if (!share) return h('span', { class: 'muted', title: "Limited only by its ancestors' budgets and the organization's" }, 'no budget of its own');
  const label = `${share.used}% of the budget used (${share.spent}% spent, ${share.held}% held)`;
  return h(
    'span',
    { class: 'share', 'data-testid': 'run-budget-bar' },
    h(
      'span',
      { class: 'bar run-bar', role: 'img', 'aria-label': label, title: label },
      h('span', { class: `bar-fill${share.over ? ' over' : share.used >= 80 ? ' warn' : ''}`, style: `width:${share.spent}%` }),
      h('span', { class: 'bar-fill held', style: `width:${share.held}%` }),
    ),
    `${share.used}%`,
  );
}

/** A run's row, and (once opened) the row under it with its items and its children. */
function runRows(ctx: ViewContext, orgId: string, run: RunSummary): HTMLElement[] {
  const detailId = `run-detail-${run.id}`;
  const toggle = h('button', { type: 'button', class: 'run-toggle', 'aria-expanded': 'false', 'aria-controls': detailId, title: run.id }, h('span', { class: 'run-caret', 'aria-hidden': 'true' }, '▸'), ' ', runName(run));
  const detailCell = h('td', { colspan: COLUMNS });
  const detail = h('tr', { class: 'run-detail', id: detailId, hidden: true }, detailCell);
  const row = h(
    'tr',
    { 'data-run-id': run.id },
    h('td', null, toggle, h('span', { class: 'muted run-created' }, `started ${formatDateTime(run.createdAt)}`)),
    h('td', null, statusBadge(run)),
    h('td', { class: 'num', 'data-testid': 'run-budget' }, formatCreditAmount(run.budgetCredits)),
    h('td', { class: 'num', 'data-testid': 'run-spent' }, formatCreditAmount(run.spentCredits)),
    h('td', { class: 'num', 'data-testid': 'run-held' }, formatCreditAmount(run.heldCredits)),
    h('td', { class: 'num', 'data-testid': 'run-remaining' }, formatCreditAmount(run.remainingCredits)),
    h('td', null, budgetBar(run)),
    h('td', { class: 'num', 'data-testid': 'run-children' }, formatInt(run.childRuns)),
  );
  let generation = 0;
  toggle.addEventListener('click', async () => {
    const open = toggle.getAttribute('aria-expanded') === 'true';
    toggle.setAttribute('aria-expanded', String(!open));
    detail.hidden = open;
    generation += 1;
    if (open) {
      detailCell.replaceChildren();
      return;
    }
    // Fetched on every opening, so a run still working shows its latest figures; a late answer to an
    // opening that was since closed (or reopened) is dropped.
    const mine = generation;
    detailCell.replaceChildren(h('p', { class: 'muted', role: 'status' }, 'Loading…'));
    let content: HTMLElement;
    try {
      content = await runDetail(ctx, orgId, run);
    } catch (error) {
      content = h('p', { class: 'error', role: 'alert' }, `${runName(run)} could not be loaded: ${describeError(error)}`);
    }
    if (mine === generation) detailCell.replaceChildren(content);
  });
  return [row, detail];
}

/** The run's own events by type and its child runs (a page of them, each expandable). */
async function runDetail(ctx: ViewContext, orgId: string, run: RunSummary): Promise<HTMLElement> {
  const [view, children] = await Promise.all([
    ctx.api.get<RunView>(apiPath('organizations', orgId, 'runs', run.id)),
    run.childRuns > 0 ? runsList(ctx, orgId, run) : Promise.resolve(null),
  ]);
  const units = (u: Record<string, string>) =>
    Object.keys(u).length === 0
      ? '–'
      : Object.entries(u)
          .map(([name, n]) => `${name} ${formatCreditAmount(n).replace(/\.00$/, '')}`)
          .join(' · ');
  const items =
    view.items.length === 0
      ? h('p', { class: 'muted empty', 'data-testid': 'run-items-empty' }, 'No events of its own: what it spent, its child runs spent.')
      : h(
          'div',
          scrollBox(`Own events of ${runName(run)}`),
          h(
            'table',
            { class: 'run-items' },
            h('caption', { class: 'sr-only' }, `Own events of ${runName(run)} by event type`),
            h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Event type'), h('th', { scope: 'col', class: 'num' }, 'Events'), h('th', { scope: 'col', class: 'num' }, 'Credits'), h('th', { scope: 'col' }, 'Units'))),
            h(
              'tbody',
              null,
              view.items.map((i) => h('tr', { 'data-event-type': i.eventType }, h('td', null, i.eventType), h('td', { class: 'num' }, formatInt(i.events)), h('td', { class: 'num' }, formatCreditAmount(i.credits)), h('td', null, units(i.units)))),
            ),
          ),
        );
  const where = view.path.length > 1 ? h('p', { class: 'muted' }, `Nested ${plural(view.path.length - 1, 'level')} deep.`) : null;
  const expires = view.expiresAt && view.status === 'open' ? h('p', { class: 'muted' }, `Takes calls until ${formatDateTime(view.expiresAt)}.`) : null;
  return h(
    'div',
    { class: 'run-detail-body', 'data-testid': 'run-detail' },
    where,
    expires,
    h('h3', null, 'Its own events by type'),
    items,
    h('h3', null, `Child runs (${formatInt(run.childRuns)})`),
    children ?? h('p', { class: 'muted empty', 'data-testid': 'run-children-empty' }, 'No child runs.'),
  );
}
