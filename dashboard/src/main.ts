// The usage dashboard: sign in with a key, then the organization's view or the operator's views.
// Routes live in the hash (#/org/acme, #/admin/events) so the service serves one page for all of them.

import { Api, ApiError, apiPath } from './api';
import { describeError } from './context';
import type { ViewContext } from './context';
import { field, fill, h } from './dom';
import { clearSession, loadSession, saveSession } from './session';
import type { StoredSession } from './session';
import type { Organization, Session } from './types';
import { renderCache } from './views/cache';
import { renderEvents } from './views/events';
import { renderJobs } from './views/jobs';
import { renderInvoicePrint } from './views/invoice-print';
import { renderOrganization } from './views/organization';
import { renderOrganizations } from './views/organizations';
import { renderPlans } from './views/plans';

const ADMIN_SECTIONS: [string, string, (ctx: ViewContext) => Promise<void>][] = [
  ['events', 'Events', renderEvents],
  ['plans', 'Plans', renderPlans],
  ['organizations', 'Organizations', renderOrganizations],
  ['jobs', 'Jobs', renderJobs],
  ['cache', 'Cache', renderCache],
];

const main = document.getElementById('main') as HTMLElement;
const nav = document.getElementById('nav') as HTMLElement;
const who = document.getElementById('who') as HTMLElement;
const cleanups: (() => void)[] = [];
let lastOrg: string | null = null;

function signOut(): void {
  clearSession();
  location.hash = '#/';
  void route();
}

function homeOf(session: Session): string {
  return session.kind === 'admin' ? '#/admin/organizations' : `#/org/${encodeURIComponent(session.organizationId)}`;
}

/** Why the sign-in page is shown instead of a portal link's usage page (an expired or unknown link). */
let portalError: string | null = null;

/**
 * A customer portal link (`/dashboard#portal=nxp_…`): the token comes in the fragment (never sent to a
 * server), leaves the address bar at once, and is kept like a pasted key for this tab only.
 */
async function openPortalLink(): Promise<boolean> {
  const match = /^#portal=(nxp_[A-Za-z0-9_-]+)$/.exec(location.hash);
  if (!match) return false;
  const token = match[1];
  history.replaceState(null, '', `${location.pathname}${location.search}#/`);
  clearSession();
  try {
    const session = await new Api(token).get<Session>(apiPath('dashboard', 'session'));
    saveSession({ ...session, key: token });
    history.replaceState(null, '', `${location.pathname}${location.search}${homeOf(session)}`);
  } catch (e) {
    portalError =
      e instanceof ApiError && e.status === 401 ? 'This link has expired or is not valid. Ask for a new link, or sign in with an API key.' : describeError(e);
  }
  return true;
}

async function route(): Promise<void> {
  for (const cleanup of cleanups.splice(0)) cleanup();
  const session = loadSession();
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  if (!session) {
    renderChrome(null, parts);
    return renderSignIn();
  }
  const api = new Api(session.key, signOut);
  const ctx: ViewContext = { api, session, main, onLeave: (cleanup) => cleanups.push(cleanup) };
  if (parts[0] === 'org' && parts[1] && (session.kind === 'admin' || parts[1] === session.organizationId)) {
    lastOrg = parts[1];
    renderChrome(session, parts);
    if (parts[2] === 'invoice' && parts[3]) {
      document.title = `Invoice ${parts[3]} · ${parts[1]}`;
      return renderInvoicePrint(ctx, parts[1], parts[3]);
    }
    document.title = `${parts[1]} · Usage dashboard`;
    return renderOrganization(ctx, parts[1]);
  }
  const section = session.kind === 'admin' && parts[0] === 'admin' ? ADMIN_SECTIONS.find(([slug]) => slug === parts[1]) : undefined;
  if (!section) {
    location.replace(homeOf(session));
    return;
  }
  renderChrome(session, parts);
  document.title = `${section[1]} · Usage dashboard`;
  return section[2](ctx);
}

function navLink(href: string, text: string, current: boolean): HTMLElement {
  return h('a', { href, 'aria-current': current ? 'page' : null }, text);
}

function renderChrome(session: StoredSession | null, parts: string[]): void {
  if (!session) {
    fill(nav);
    fill(who);
    return;
  }
  const here = parts.join('/');
  if (session.kind === 'organization') {
    fill(nav, navLink(homeOf(session), 'Usage', true));
    fill(who, h('span', { class: 'muted' }, `Organization ${session.organizationId}`), signOutButton());
    return;
  }
  if (session.kind === 'portal') {
    fill(nav, navLink(homeOf(session), 'Usage', true));
    fill(who, h('span', { class: 'muted', id: 'portal-notice' }, `Read-only link for ${session.organizationId} · valid until ${session.expiresAt.slice(0, 16).replace('T', ' ')} UTC`), signOutButton());
    return;
  }
  const org = parts[0] === 'org' ? parts[1] : lastOrg;
  fill(
    nav,
    org ? navLink(`#/org/${encodeURIComponent(org)}`, `Usage: ${org}`, parts[0] === 'org') : null,
    ADMIN_SECTIONS.map(([slug, label]) => navLink(`#/admin/${slug}`, label, here === `admin/${slug}`)),
  );
  fill(who, orgPicker(new Api(session.key, signOut), parts[0] === 'org' ? parts[1] : ''), h('span', { class: 'muted' }, 'Operator'), signOutButton());
}

function signOutButton(): HTMLElement {
  const button = h('button', { type: 'button', class: 'secondary small' }, 'Sign out');
  button.addEventListener('click', signOut);
  return button;
}

/** The operator opens any organization's view: type or pick its id. */
function orgPicker(api: Api, current: string): HTMLElement {
  const input = h('input', { type: 'text', id: 'org-picker', list: 'org-picker-list', placeholder: 'organization id', autocomplete: 'off', value: current });
  const list = h('datalist', { id: 'org-picker-list' });
  const form = h('form', { class: 'org-picker', role: 'search', 'aria-label': 'Open an organization' }, h('label', { for: 'org-picker', class: 'sr-only' }, 'Organization'), input, list, h('button', { type: 'submit', class: 'small' }, 'Open'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const id = input.value.trim();
    if (id) location.hash = `#/org/${encodeURIComponent(id)}`;
  });
  // A failed list shows beside the picker (typing an id still works).
  api
    .get<{ items: Organization[] }>(apiPath('admin', 'organizations'), { limit: 1000 })
    .then((page) => list.replaceChildren(...page.items.map((o) => h('option', { value: o.id }, o.name))))
    .catch((error: unknown) => form.append(h('span', { class: 'error small', role: 'alert', id: 'org-picker-error' }, `Organization list unavailable: ${describeError(error)}`)));
  return form;
}

function renderSignIn(): void {
  document.title = 'Sign in · Usage dashboard';
  const key = h('input', { type: 'password', id: 'api-key', name: 'key', autocomplete: 'off', spellcheck: 'false', required: true });
  const error = h('p', { class: 'error', role: 'alert', id: 'sign-in-error' }, portalError ?? '');
  portalError = null;
  const button = h('button', { type: 'submit' }, 'Sign in');
  const form = h(
    'form',
    { class: 'sign-in', novalidate: true },
    field('API key', key, { hint: 'An organization key (with the read scope) or the admin key.' }),
    error,
    h('div', { class: 'buttons' }, button),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const value = key.value.trim();
    if (!value) {
      error.textContent = 'Paste a key first.';
      key.focus();
      return;
    }
    button.disabled = true;
    error.textContent = '';
    try {
      const session = await new Api(value).get<Session>(apiPath('dashboard', 'session'));
      saveSession({ ...session, key: value });
      // Keep a deep link opened before signing in (#/org/x, #/admin/plans); route() checks it is allowed.
      if (location.hash.length > 2) await route();
      else location.hash = homeOf(session);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) error.textContent = 'This key is not valid (unknown, revoked, or mistyped).';
      else if (e instanceof ApiError && e.status === 403) error.textContent = 'This key lacks the read scope, which the dashboard needs. Ask an operator for a key with read.';
      else error.textContent = describeError(e);
    } finally {
      button.disabled = false;
    }
  });
  fill(
    main,
    h(
      'section',
      { class: 'card sign-in-card', 'aria-labelledby': 'sign-in-title' },
      h('h1', { id: 'sign-in-title' }, 'Usage dashboard'),
      h('p', null, 'Paste an API key to see where credits go and where the month is heading. An organization key opens its usage; the admin key also opens the operator views (prices, plans, organizations, jobs).'),
      h('p', { class: 'muted' }, 'The key stays in this browser tab only (session storage, no cookies) and is sent only to this service.'),
      form,
    ),
  );
  key.focus();
}

window.addEventListener('hashchange', () => void route());
void openPortalLink().then(() => route());
