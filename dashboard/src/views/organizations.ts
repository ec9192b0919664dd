// The operator's organizations: create, change plan, grant credits, issue and revoke keys (a new key is
// shown once), and a link to each organization's usage view.

import { ApiError, apiPath } from '../api';
import { describeError } from '../context';
import type { ViewContext } from '../context';
import { card, field, fill, h, loading, scrollBox, table, toast } from '../dom';
import { clearFieldErrors, formError, numberOrText, showFieldErrors } from '../forms';
import { formatCredits, formatDate, formatDateTime, formatUsd } from '../format';
import type { ApiKeyView, CreatedApiKey, Grant, Organization, PlanDefinition, PortalSession, Scope } from '../types';

/** Sends a form's request; a 400's field errors go next to the fields, anything else above the form. */
async function submit(form: HTMLFormElement, work: () => Promise<void>): Promise<void> {
  clearFieldErrors(form);
  const button = form.querySelector<HTMLButtonElement>('button[type=submit]');
  if (button) button.disabled = true;
  try {
    await work();
  } catch (error) {
    if (error instanceof ApiError && error.status === 400) {
      const unplaced = showFieldErrors(form, error.fields);
      fill(formError(form), `Not saved: ${error.message}.`, unplaced.length ? h('ul', null, unplaced.map((m) => h('li', null, m))) : null);
    } else {
      fill(formError(form), `Not saved: ${describeError(error)}`);
    }
  } finally {
    if (button) button.disabled = false;
  }
}

function planSelect(plans: PlanDefinition[], name: string, selected?: string): HTMLSelectElement {
  return h('select', { name }, plans.map((p) => h('option', { value: p.name, selected: p.name === selected }, `${p.displayName} (${p.name})`)));
}

type SortKey = 'id' | 'used' | 'remaining' | 'status';

/** What a new key is for, and the scopes that takes (`custom`: the boxes as ticked). */
const KEY_PURPOSES: { value: string; label: string; scopes: Scope[] | null }[] = [
  { value: 'dashboard', label: 'the dashboard and reports (read)', scopes: ['read'] },
  { value: 'client', label: 'the client package: metering an application (track)', scopes: ['track'] },
  { value: 'tracking-and-reads', label: 'a backend that meters and reads usage (track, read)', scopes: ['track', 'read'] },
  { value: 'custom', label: 'custom scopes', scopes: null },
];
const STATUS_TEXT: Record<Organization['usage']['status'], string> = { ok: 'ok', warning: '80 % reached', overage: 'in overage', exhausted: 'hard cap reached' };
const STATUS_RANK: Record<Organization['usage']['status'], number> = { ok: 0, warning: 1, overage: 2, exhausted: 3 };

/** Ascending order of two organizations by a column (0 for a tie). */
function compareBy(key: SortKey, a: Organization, b: Organization): number {
  if (key === 'id') return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  return key === 'status' ? STATUS_RANK[a.usage.status] - STATUS_RANK[b.usage.status] : key === 'used' ? a.usage.used - b.usage.used : a.usage.remaining - b.usage.remaining;
}

export async function renderOrganizations(ctx: ViewContext): Promise<void> {
  const { api, main } = ctx;
  const listBody = h('div', { class: 'card-body' }, loading());
  const createBody = h('div', { class: 'card-body' }, loading());
  fill(
    main,
    h('div', { class: 'page-head' }, h('h1', null, 'Organizations'), h('p', { class: 'subtitle' }, 'Create organizations, change plans, grant top-up credits and manage API keys.')),
    h('div', { class: 'grid' }, card('New organization', { id: 'create-organization', wide: true }, createBody), card('All organizations', { id: 'organizations', wide: true }, listBody)),
  );

  let plans: PlanDefinition[] = [];
  try {
    plans = (await api.get<{ items: PlanDefinition[] }>(apiPath('admin', 'plans'))).items;
  } catch (error) {
    fill(createBody, h('p', { class: 'error', role: 'alert' }, describeError(error)));
  }

  const tbody = h('tbody');
  let cursor: string | null = null;
  const columns = 10;
  // The page's organizations as loaded, and how the operator sorted them (within the page: the API pages by id).
  let shown: Organization[] = [];
  let sort: { key: SortKey; descending: boolean } | null = null;

  const addRow = (org: Organization, position: 'append' | 'prepend' = 'append') => {
    const detail = h('tr', { class: 'detail', hidden: true }, h('td', { colspan: columns }));
    const manage = h('button', { type: 'button', class: 'secondary small', 'data-action': 'manage', 'aria-expanded': 'false' }, 'Manage');
    const planCell = h('td', null, org.plan);
    manage.addEventListener('click', () => {
      const opening = detail.hidden;
      detail.hidden = !opening;
      manage.setAttribute('aria-expanded', String(opening));
      if (opening) void manageOrganization(ctx, detail.firstElementChild as HTMLElement, org, plans, (plan) => (planCell.textContent = plan));
    });
    const row = h(
      'tr',
      { 'data-key': org.id },
      h('td', null, h('code', null, org.id)),
      h('td', null, org.name),
      planCell,
      h('td', { class: 'num', 'data-testid': 'org-used' }, `${formatCredits(org.usage.used)} (${org.usage.percentUsed}%)`),
      h('td', { class: 'num', 'data-testid': 'org-remaining' }, formatCredits(org.usage.remaining)),
      h('td', { 'data-testid': 'org-status' }, h('span', { class: `badge status-${org.usage.status}` }, STATUS_TEXT[org.usage.status])),
      h('td', null, org.billingCycle),
      h('td', { class: 'num' }, org.spendCap === null ? '–' : formatUsd(org.spendCap)),
      h('td', null, formatDate(org.createdAt)),
      h('td', { class: 'actions' }, h('a', { href: `#/org/${encodeURIComponent(org.id)}`, class: 'button-link small' }, 'Usage'), manage),
    );
    if (position === 'prepend') tbody.prepend(row, detail);
    else tbody.append(row, detail);
  };

  // Pages of PAGE_SIZE in id order, optionally searched; the cursors of the pages seen make "Previous" work.
  const PAGE_SIZE = 50;
  const search = h('input', { type: 'search', name: 'q', id: 'organizations-search', autocomplete: 'off', placeholder: 'id or name' });
  const status = h('p', { class: 'muted', role: 'status', id: 'organizations-status' });
  const previous = h('button', { type: 'button', class: 'secondary', id: 'organizations-previous', disabled: true }, 'Previous');
  const next = h('button', { type: 'button', class: 'secondary', id: 'organizations-next', disabled: true }, 'Next');
  const starts: (string | null)[] = [null];
  let pageIndex = 0;
  let query = '';
  const load = async () => {
    status.textContent = 'Loading…';
    try {
      const page = await api.get<{ items: Organization[]; nextCursor: string | null }>(apiPath('admin', 'organizations'), { limit: PAGE_SIZE, cursor: starts[pageIndex] ?? undefined, q: query || undefined });
      shown = page.items;
      renderRows();
      cursor = page.nextCursor;
      starts.length = pageIndex + 1;
      if (cursor) starts.push(cursor);
      previous.disabled = pageIndex === 0;
      next.disabled = !cursor;
      const first = pageIndex * PAGE_SIZE + 1;
      status.textContent =
        page.items.length === 0
          ? query
            ? `No organization matches "${query}".`
            : 'No organizations yet.'
          : `Page ${pageIndex + 1}: organizations ${first}–${first + page.items.length - 1}${query ? ` matching "${query}"` : ''}${cursor ? ', more on the next page' : ''}.`;
    } catch (error) {
      status.textContent = describeError(error);
      toast(describeError(error), 'error');
    }
  };
  previous.addEventListener('click', () => {
    if (pageIndex > 0) pageIndex--;
    void load();
  });
  next.addEventListener('click', () => {
    if (starts[pageIndex + 1] !== undefined) pageIndex++;
    void load();
  });
  const searchForm = h(
    'form',
    { class: 'inline-form', role: 'search', 'aria-label': 'Search organizations', id: 'organizations-search-form' },
    field('Search', search),
    h('div', { class: 'buttons' }, h('button', { type: 'submit' }, 'Search')),
  );
  searchForm.addEventListener('submit', (event) => {
    event.preventDefault();
    query = search.value.trim();
    starts.length = 1;
    pageIndex = 0;
    void load();
  });

  const renderRows = () => {
    tbody.replaceChildren();
    // Ties stay in id order whichever way the column is sorted.
    const rows = sort ? [...shown].sort((a, b) => compareBy(sort!.key, a, b) * (sort!.descending ? -1 : 1) || compareBy('id', a, b)) : shown;
    rows.forEach((org) => addRow(org));
    for (const th of headRow.querySelectorAll<HTMLElement>('th[data-sort]')) th.setAttribute('aria-sort', sort && th.dataset.sort === sort.key ? (sort.descending ? 'descending' : 'ascending') : 'none');
  };
  const header = (text: string, options: { key?: SortKey; numeric?: boolean } = {}) => {
    if (!options.key) return h('th', { scope: 'col', class: options.numeric ? 'num' : null }, text);
    const key = options.key;
    const button = h('button', { type: 'button', class: 'sort', 'data-sort-button': key }, text);
    // First click sorts the way an operator looks first (most used, least left, worst status), the next reverses.
    button.addEventListener('click', () => {
      sort = sort && sort.key === key ? { key, descending: !sort.descending } : { key, descending: key !== 'remaining' && key !== 'id' };
      renderRows();
    });
    return h('th', { scope: 'col', class: options.numeric ? 'num' : null, 'data-sort': key, 'aria-sort': 'none' }, button);
  };
  const headRow = h(
    'tr',
    null,
    header('ID', { key: 'id' }),
    header('Name'),
    header('Plan'),
    header('Used this period', { key: 'used', numeric: true }),
    header('Remaining', { key: 'remaining', numeric: true }),
    header('Status', { key: 'status' }),
    header('Billing'),
    header('Spend cap', { numeric: true }),
    header('Created'),
    header('Actions'),
  );
  fill(
    listBody,
    searchForm,
    status,
    h(
      'div',
      scrollBox('Organizations'),
      h(
        'table',
        { id: 'organizations-table' },
        h('caption', { class: 'sr-only' }, 'Organizations'),
        h('thead', null, headRow),
        tbody,
      ),
    ),
    h('nav', { class: 'pager', 'aria-label': 'Organization pages' }, previous, next),
  );

  const id = h('input', { type: 'text', name: 'id', autocomplete: 'off', required: true });
  const name = h('input', { type: 'text', name: 'name', autocomplete: 'off', required: true });
  const plan = planSelect(plans, 'plan', 'free');
  const cycle = h('select', { name: 'billingCycle' }, h('option', { value: 'monthly' }, 'monthly'), h('option', { value: 'annual' }, 'annual'));
  const spendCap = h('input', { type: 'text', name: 'spendCap', inputmode: 'decimal', autocomplete: 'off' });
  const form = h(
    'form',
    { class: 'inline-form', novalidate: true, id: 'create-organization-form' },
    field('ID', id, { path: 'id', hint: 'Letters, digits, _ or - (your own id)' }),
    field('Name', name, { path: 'name' }),
    field('Plan', plan, { path: 'plan' }),
    field('Billing cycle', cycle, { path: 'billingCycle' }),
    field('Spend cap (USD, optional)', spendCap, { path: 'spendCap', hint: 'Max overage a period' }),
    h('div', { class: 'buttons' }, h('button', { type: 'submit' }, 'Create')),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void submit(form, async () => {
      const created = await api.post<Omit<Organization, 'usage'>>(apiPath('admin', 'organizations'), {
        id: id.value.trim(),
        name: name.value.trim(),
        plan: plan.value,
        billingCycle: cycle.value,
        ...(spendCap.value.trim() ? { spendCap: numberOrText(spendCap.value) } : {}),
      });
      toast(`Created ${created.id} on ${created.plan}.`);
      // A new organization has used nothing yet: its plan's allowance is all there is.
      const allowance = plans.find((p) => p.name === created.plan)?.monthlyCredits ?? 0;
      const listed: Organization = { ...created, usage: { used: 0, allowance, remaining: allowance, overage: 0, percentUsed: 0, status: 'ok' } };
      // Kept with the page's organizations, so a later sort keeps it in the list.
      shown = [listed, ...shown];
      addRow(listed, 'prepend');
      form.reset();
    });
  });
  if (plans.length) fill(createBody, form);
  await load();
}

async function manageOrganization(ctx: ViewContext, cell: HTMLElement, org: Organization, plans: PlanDefinition[], planChanged: (plan: string) => void): Promise<void> {
  const { api } = ctx;
  const base = (...rest: string[]) => apiPath('admin', 'organizations', org.id, ...rest);

  // Plan change
  const plan = planSelect(plans, 'plan', org.plan);
  const effective = h('select', { name: 'effective' }, h('option', { value: 'now' }, 'now (keeps what was used)'), h('option', { value: 'next_period' }, 'from the next period'));
  const planForm = h('form', { class: 'inline-form', novalidate: true, 'data-form': 'plan' }, field('New plan', plan, { path: 'plan' }), field('Effective', effective, { path: 'effective' }), h('div', { class: 'buttons' }, h('button', { type: 'submit' }, 'Change plan')));
  planForm.addEventListener('submit', (event) => {
    event.preventDefault();
    void submit(planForm, async () => {
      const updated = await api.put<Organization>(base('plan'), { plan: plan.value, effective: effective.value });
      planChanged(updated.plan);
      toast(effective.value === 'now' ? `${org.id} is now on ${updated.plan}.` : `${org.id} switches to ${plan.value} next period.`);
    });
  });

  // Credits
  const amount = h('input', { type: 'text', name: 'amount', inputmode: 'decimal', autocomplete: 'off' });
  const expires = h('input', { type: 'date', name: 'expiresAt' });
  const reason = h('input', { type: 'text', name: 'reason', autocomplete: 'off' });
  const grants = h('div', null, loading());
  const loadGrants = async () => {
    try {
      const list = (await api.get<{ items: Grant[] }>(base('credits'))).items;
      fill(
        grants,
        table('Top-up grants', [{ text: 'Amount', numeric: true }, { text: 'Remaining', numeric: true }, 'Expires', 'Reason', 'Granted'], list.map((g) => [formatCredits(g.amount), g.remaining === undefined ? '–' : formatCredits(g.remaining), formatDate(g.expiresAt), g.reason ?? '', formatDateTime(g.createdAt)]), {
          empty: 'No top-ups granted.',
        }),
      );
    } catch (error) {
      fill(grants, h('p', { class: 'error' }, describeError(error)));
    }
  };
  const creditsForm = h(
    'form',
    { class: 'inline-form', novalidate: true, 'data-form': 'credits' },
    field('Credits', amount, { path: 'amount' }),
    field('Expires (optional)', expires, { path: 'expiresAt' }),
    field('Reason (optional)', reason, { path: 'reason' }),
    h('div', { class: 'buttons' }, h('button', { type: 'submit' }, 'Grant credits')),
  );
  creditsForm.addEventListener('submit', (event) => {
    event.preventDefault();
    void submit(creditsForm, async () => {
      const grant = await api.post<Grant>(base('credits'), {
        amount: numberOrText(amount.value),
        ...(expires.value ? { expiresAt: `${expires.value}T00:00:00.000Z` } : {}),
        ...(reason.value.trim() ? { reason: reason.value.trim() } : {}),
      });
      toast(`Granted ${formatCredits(grant.amount)} credits to ${org.id}.`);
      creditsForm.reset();
      await loadGrants();
    });
  });

  // API keys
  const keys = h('div', null, loading());
  const shownOnce = h('div', { class: 'key-once', 'aria-live': 'polite' });
  const loadKeys = async () => {
    try {
      const list = (await api.get<{ items: ApiKeyView[] }>(base('api-keys'))).items;
      fill(
        keys,
        table(
          'API keys',
          ['Name', 'Scopes', 'Key', 'Created', 'Last used', 'Status'],
          list.map((k) => {
            let status: HTMLElement;
            if (k.revokedAt) status = h('span', { class: 'badge' }, `revoked ${formatDate(k.revokedAt)}`);
            else {
              status = h('button', { type: 'button', class: 'danger small', 'data-revoke': k.id }, `Revoke ${k.name}`);
              status.addEventListener('click', async () => {
                if (!window.confirm(`Revoke the key "${k.name}" of ${org.id}? Clients using it stop at once.`)) return;
                try {
                  await api.delete(base('api-keys', k.id));
                  toast(`Revoked ${k.name}.`);
                  await loadKeys();
                } catch (error) {
                  toast(describeError(error), 'error');
                }
              });
            }
            return [k.name, k.scopes.join(', '), h('code', null, k.prefix), formatDateTime(k.createdAt), formatDateTime(k.lastUsedAt), status];
          }),
          { empty: 'No keys yet.' },
        ),
      );
    } catch (error) {
      fill(keys, h('p', { class: 'error' }, describeError(error)));
    }
  };
  const keyName = h('input', { type: 'text', name: 'name', autocomplete: 'off' });
  const scopeBoxes = (['read', 'track', 'manage'] as Scope[]).map((scope) => {
    const box = h('input', { type: 'checkbox', name: 'scopes', value: scope, checked: scope === 'read' });
    box.id = `${org.id}-scope-${scope}`;
    return h('span', { class: 'check' }, box, h('label', { for: box.id }, scope));
  });
  // Presets of what a key is for: the client package meters with `track` alone (it learns its organization
  // from GET /api/key); the dashboard signs in with `read`. Ticking boxes by hand makes it "custom".
  const purpose = h(
    'select',
    { name: 'purpose', 'data-testid': 'key-purpose' },
    KEY_PURPOSES.map((p) => h('option', { value: p.value, selected: p.value === 'dashboard' }, p.label)),
  );
  purpose.addEventListener('change', () => {
    const preset = KEY_PURPOSES.find((p) => p.value === purpose.value)?.scopes;
    if (!preset) return;
    for (const box of keyForm.querySelectorAll<HTMLInputElement>('input[name=scopes]')) box.checked = preset.includes(box.value as Scope);
    if (!keyName.value.trim() && purpose.value === 'client') keyName.value = 'client package';
  });
  for (const box of scopeBoxes.map((s) => s.querySelector('input')!)) box.addEventListener('change', () => (purpose.value = 'custom'));
  const keyForm = h(
    'form',
    { class: 'inline-form', novalidate: true, 'data-form': 'api-key' },
    field('Key name', keyName, { path: 'name' }),
    field('For', purpose, { hint: 'Sets the scopes; adjust them below if needed' }),
    h('fieldset', { class: 'field-group scopes', 'data-field': 'scopes' }, h('legend', null, 'Scopes'), scopeBoxes, h('p', { class: 'field-error', id: `${org.id}-scopes-error`, hidden: true })),
    h('div', { class: 'buttons' }, h('button', { type: 'submit' }, 'Create key')),
  );
  keyForm.addEventListener('submit', (event) => {
    event.preventDefault();
    void submit(keyForm, async () => {
      const scopes = [...keyForm.querySelectorAll<HTMLInputElement>('input[name=scopes]:checked')].map((b) => b.value);
      const created = await api.post<CreatedApiKey>(base('api-keys'), { name: keyName.value.trim(), scopes });
      const copy = h('button', { type: 'button', class: 'secondary small' }, 'Copy');
      copy.addEventListener('click', () => {
        navigator.clipboard?.writeText(created.key).then(
          () => toast('Copied.'),
          () => toast('Copy failed: select the key and copy it.', 'error'),
        );
      });
      fill(
        shownOnce,
        h('p', null, h('strong', null, `New key "${created.name}" (${created.scopes.join(', ')}).`), ' Copy it now: it is shown this once and stored only as a hash.'),
        h('p', { class: 'key-row' }, h('code', { class: 'secret', 'data-testid': 'new-key' }, created.key), copy),
      );
      keyForm.reset();
      purpose.value = 'dashboard';
      await loadKeys();
    });
  });

  // A short-lived, read-only link the customer opens without an API key.
  const ttl = h('select', { name: 'ttlMinutes' }, [15, 60, 240, 1440].map((m) => h('option', { value: m, selected: m === 60 }, m < 60 ? `${m} minutes` : m === 60 ? '1 hour' : m === 1440 ? '24 hours' : `${m / 60} hours`)));
  const portalShown = h('div', { 'aria-live': 'polite' });
  const portalForm = h('form', { class: 'inline-form', novalidate: true, 'data-form': 'portal' }, field('Link valid for', ttl, { path: 'ttlMinutes' }), h('div', { class: 'buttons' }, h('button', { type: 'submit' }, 'Create link')));
  portalForm.addEventListener('submit', (event) => {
    event.preventDefault();
    void submit(portalForm, async () => {
      const link = await api.post<PortalSession>(base('portal-sessions'), { ttlMinutes: Number(ttl.value) });
      const copy = h('button', { type: 'button', class: 'secondary small' }, 'Copy');
      copy.addEventListener('click', () => {
        navigator.clipboard?.writeText(link.url).then(
          () => toast('Copied.'),
          () => toast('Copy failed: select the link and copy it.', 'error'),
        );
      });
      fill(
        portalShown,
        h('p', null, `Read-only usage page of ${org.id}, valid until ${formatDateTime(link.expiresAt)}. Anyone with the link can read this organization's usage until then; it opens nothing else.`),
        h('p', { class: 'key-row' }, h('code', { class: 'secret', 'data-testid': 'portal-url' }, link.url), copy),
      );
    });
  });

  fill(
    cell,
    h(
      'div',
      { class: 'manage' },
      h('section', { 'aria-label': `Plan of ${org.id}` }, h('h3', null, 'Plan'), planForm),
      h('section', { 'aria-label': `Credits of ${org.id}` }, h('h3', null, 'Top-up credits'), creditsForm, grants),
      h('section', { 'aria-label': `API keys of ${org.id}` }, h('h3', null, 'API keys'), keyForm, shownOnce, keys),
      h('section', { 'aria-label': `Customer portal link of ${org.id}` }, h('h3', null, 'Customer portal link'), portalForm, portalShown),
    ),
  );
  await Promise.all([loadGrants(), loadKeys()]);
}
