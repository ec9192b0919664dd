#!/usr/bin/env node
// `npm run demo`: a guided tour of usage metering against a RUNNING service.
//
//   1. checks GET /health
//   2. creates a demo organization on the free plan
//   3. tracks a realistic mix of the seeded events, one line per result
//   4. keeps going until the free plan's hard cap answers 402 (and shows the suggested plan)
//   5. upgrades to starter, tracks a batch and single events until it runs into overage
//   6. prices LLM calls by their tokens (units): tracked, reserved then committed, and through @TrackUsage
//   7. gives a member a daily budget and runs into it (402 BUDGET_EXCEEDED), below the organization's credits
//   8. prints the usage summary and the notifications
//
// Environment (the real environment first, then ./.env, as the service reads them): DEMO_BASE_URL, else
// PUBLIC_URL, else http://127.0.0.1:<PORT> (PORT default 5000), so the demo finds the service wherever
// `npm start` put it; ADMIN_API_KEY (default dev-admin-key), DEMO_ORG_ID (default demo-org). Plain Node,
// no dependencies. Exit 0 on success, 1 on an unexpected HTTP answer or when the service is not reachable.

try {
  // Variables already in the environment win, as with the service (Node 20.12+).
  process.loadEnvFile?.('.env');
} catch {
  // no .env: the environment alone
}
const blank = (value) => (value === undefined || value.trim() === '' ? undefined : value.trim());
const BASE_URL = (blank(process.env.DEMO_BASE_URL) ?? blank(process.env.PUBLIC_URL) ?? `http://127.0.0.1:${blank(process.env.PORT) ?? '5000'}`).replace(/\/+$/, '');
const ADMIN_KEY = process.env.ADMIN_API_KEY || 'dev-admin-key';
const ORG_ID = process.env.DEMO_ORG_ID || 'demo-org';

// ---------------------------------------------------------------------------------------------------------
// Terminal output

const useColor = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR && process.env.TERM !== 'dumb';
const paint = (code) => (s) => (useColor ? `\x1b[${code}m${s}\x1b[0m` : String(s));
const bold = paint('1');
const dim = paint('2');
const red = paint('31');
const green = paint('32');
const yellow = paint('33');
const cyan = paint('36');

// Padding that ignores colour escapes, so coloured cells still line up.
// eslint-disable-next-line no-control-regex
const visible = (s) => String(s).replace(/\x1b\[[0-9;]*m/g, '');
const padEnd = (s, n) => String(s) + ' '.repeat(Math.max(0, n - visible(s).length));
const padStart = (s, n) => ' '.repeat(Math.max(0, n - visible(s).length)) + String(s);

const log = (...parts) => console.log(...parts);
const heading = (text) => {
  log('');
  log(bold(cyan(`== ${text} `)) + cyan('='.repeat(Math.max(0, 100 - text.length - 4))));
};

const cr = (n) => (n === null || n === undefined ? '-' : Number(n).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 }));
const int = (n) => (n === null || n === undefined ? 'unlimited' : Number(n).toLocaleString('en-US'));
const usd = (n) => (n === null || n === undefined ? '-' : `$${Number(n).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`);
const pct = (fraction) => `${Math.round(Number(fraction) * 100)}%`;

/** A simple table: columns {title, align: 'left'|'right'}, rows of cells (strings, may be coloured). */
function table(columns, rows, indent = '  ') {
  const widths = columns.map((c, i) => Math.max(visible(c.title).length, ...rows.map((r) => visible(r[i] ?? '').length)));
  const line = (cells, style = (s) => s) =>
    indent +
    cells
      .map((cell, i) => (columns[i].align === 'right' ? padStart(cell ?? '', widths[i]) : padEnd(cell ?? '', widths[i])))
      .map((cell) => style(cell))
      .join('  ')
      .replace(/\s+$/, '');
  log(line(columns.map((c) => c.title), (s) => bold(s)));
  log(indent + widths.map((w) => dim('-'.repeat(w))).join('  '));
  for (const row of rows) log(line(row));
}

// ---------------------------------------------------------------------------------------------------------
// HTTP

class HttpError extends Error {
  constructor(method, path, status, body) {
    super(`${method} ${path} answered ${status}`);
    this.method = method;
    this.path = path;
    this.status = status;
    this.body = body;
  }
}

/**
 * One call to the service with the admin key. Statuses listed in `expect` come back as {status, body};
 * anything else throws an HttpError (the demo stops with exit 1).
 */
async function api(method, path, body, expect = [200, 201]) {
  const headers = { Authorization: `Bearer ${ADMIN_KEY}`, Accept: 'application/json', 'User-Agent': 'credit-metering-demo/1.0' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(BASE_URL + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  let parsed = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  if (!expect.includes(response.status)) throw new HttpError(method, path, response.status, parsed);
  return { status: response.status, body: parsed };
}

const orgPath = (orgId, rest = '') => `/api/organizations/${encodeURIComponent(orgId)}${rest}`;

// ---------------------------------------------------------------------------------------------------------
// The event mix

// A ~1,400 character document: derived complexity 1 + 2 * (1400 - 500) / 4500 = 1.4.
const SAMPLE_TEXT = (
  'Quarterly review of the onboarding funnel. Drop-off concentrates on the workspace setup step, where ' +
  'new teams must connect a data source before seeing any value. Interviews suggest a sample project ' +
  'would let them explore first and connect later. '
)
  .repeat(7)
  .slice(0, 1400);

const USERS = ['alice', 'bob', 'carol'];

/** One "working session" on the free plan: analyse, visualise, solution, hand over, export. */
const FREE_SESSION = [
  { eventType: 'structuring_diagnose', eventData: { complexity: 2.0, echo: true }, note: 'complexity 2.0 + echo' },
  { eventType: 'push_structuring_to_visuals', note: 'transfer' },
  { eventType: 'visuals_planning', eventData: { complexity: 1.5 }, note: 'complexity 1.5' },
  { eventType: 'push_visuals_to_solutioning', note: 'transfer' },
  { eventType: 'solutioning_formatting', eventData: { inputText: SAMPLE_TEXT }, note: `inputText ${SAMPLE_TEXT.length} chars` },
  { eventType: 'solutioning_node_stack', eventData: { complexity: 1.2 }, note: 'complexity 1.2' },
  { eventType: 'push_solutioning_to_sow', note: 'transfer' },
  { eventType: 'push_sow_to_loe', note: 'transfer' },
  { eventType: 'export_pdf', note: 'pdf export' },
];

/** Heavier work once the organization is on starter. */
const STARTER_WORK = [
  { eventType: 'solutioning_hyper_canvas', eventData: { complexity: 3 }, note: 'complexity 3' },
  { eventType: 'structuring_generate_solution', eventData: { complexity: 2.5, echo: true, traceback: true }, note: 'complexity 2.5 + echo + traceback' },
  { eventType: 'solutioning_hyper_canvas', eventData: { complexity: 3 }, note: 'complexity 3' },
  { eventType: 'visuals_sketch', eventData: { complexity: 2 }, note: 'complexity 2.0' },
];

/** One unit of the batch: a big canvas, its hand-overs, formatting, now and then a PDF. */
function batchUnit(i) {
  const unit = [
    { eventType: 'solutioning_hyper_canvas', eventData: { complexity: 3 } },
    { eventType: 'push_structuring_to_visuals' },
    { eventType: 'push_visuals_to_solutioning' },
    { eventType: 'push_solutioning_to_sow' },
    { eventType: 'push_sow_to_loe' },
    { eventType: 'solutioning_formatting' },
  ];
  if (i % 3 === 2) unit.push({ eventType: 'export_pdf' });
  return unit;
}
// What the seed prices those at, only to size the batch; the real prices come back in the results.
const BATCH_PRICE = { solutioning_hyper_canvas: 60, push_structuring_to_visuals: 1, push_visuals_to_solutioning: 1, push_solutioning_to_sow: 1, push_sow_to_loe: 1, solutioning_formatting: 3, export_pdf: 2 };

// ---------------------------------------------------------------------------------------------------------
// Tracking and printing

const EVENT_COLUMNS = [
  { title: '#', align: 'right', width: 4 },
  { title: 'event type', width: 30 },
  { title: 'input', width: 34 },
  { title: 'credits', align: 'right', width: 8 },
  { title: 'remaining', align: 'right', width: 10 },
  { title: 'overage', align: 'right', width: 8 },
  { title: 'result', width: 0 },
];
const cell = (i, s) => (EVENT_COLUMNS[i].align === 'right' ? padStart(s, EVENT_COLUMNS[i].width) : padEnd(s, EVENT_COLUMNS[i].width));
const eventLine = (cells) => '  ' + cells.map((c, i) => cell(i, c)).join('  ').replace(/\s+$/, '');
function printEventHeader() {
  log(eventLine(EVENT_COLUMNS.map((c) => bold(c.title))));
  log(eventLine(EVENT_COLUMNS.map((c) => dim('-'.repeat(c.width || 30)))));
}

const stats = { tracked: 0, accepted: 0, credits: 0, overage: 0, rejected: 0, duplicates: 0 };
let counter = 0;

const warningText = (warnings) =>
  (warnings ?? []).map((w) => yellow(`! crossed ${pct(w.threshold)}${w.type === 'budget_threshold' ? ` of ${w.subject}'s budget` : ''} (${cr(w.used)} of ${cr(w.limit)})`)).join(' ');

function suggestionText(details) {
  const s = details?.suggestedPlan;
  if (!s) return 'no larger plan available';
  return `suggested plan: ${s.displayName ?? s.name} (${s.name}, ${int(s.monthlyCredits)} credits, ${usd(s.monthlyPrice)}/month)`;
}

function rejectionText(error) {
  const code = error?.error ?? 'ERROR';
  const d = error?.details ?? {};
  let why = error?.message ?? '';
  if (code === 'CREDITS_EXHAUSTED') why = `needs ${cr(d.required)}, ${cr(d.remaining)} left on ${d.plan}`;
  if (code === 'LIMIT_EXCEEDED') why = `${d.limit} ${d.used}/${d.max} on ${d.plan}`;
  if (code === 'BUDGET_EXCEEDED') why = `${d.scope} ${d.subject}: ${cr(d.used)} of ${cr(d.credits)} used`;
  return red(`x ${code}`) + ` ${why}`;
}

function recordAccepted(result) {
  stats.accepted += 1;
  stats.credits += Number(result.creditsConsumed);
  stats.overage += Number(result.overageCredits);
}

/** Prints one result line (accepted, duplicate or rejected). */
function printResult(no, spec, outcome) {
  const input = spec.note ?? '';
  if (outcome.kind === 'rejected') {
    log(eventLine([String(no), spec.eventType, input, '-', '-', '-', rejectionText(outcome.error)]));
    return;
  }
  const r = outcome.result;
  let result;
  if (outcome.kind === 'duplicate') result = cyan('= duplicate: original result replayed, nothing charged');
  else {
    const parts = [];
    if (Number(r.overageCredits) > 0) parts.push(yellow(`overage ${cr(r.overageCredits)}`));
    if (r.warnings?.length) parts.push(warningText(r.warnings));
    result = parts.length ? parts.join(' ') : green('ok');
  }
  log(eventLine([String(no), r.eventType, input, cr(r.creditsConsumed), cr(r.remainingCredits), cr(r.overageCredits), result]));
}

/** Tracks one event; 402 is an expected answer (the plan's cap), anything else but 201 stops the demo. */
async function track(orgId, spec) {
  const no = ++counter;
  const body = { eventType: spec.eventType };
  if (spec.eventData) body.eventData = spec.eventData;
  body.userId = spec.userId ?? USERS[no % USERS.length];
  if (spec.idempotencyKey) body.idempotencyKey = spec.idempotencyKey;
  const { status, body: answer } = await api('POST', orgPath(orgId, '/usage/events'), body, [201, 402]);
  stats.tracked += 1;
  let outcome;
  if (status === 402) {
    stats.rejected += 1;
    outcome = { kind: 'rejected', error: answer };
  } else if (answer.duplicate) {
    stats.duplicates += 1;
    outcome = { kind: 'duplicate', result: answer };
  } else {
    recordAccepted(answer);
    outcome = { kind: 'accepted', result: answer };
  }
  printResult(no, spec, outcome);
  return outcome;
}

// ---------------------------------------------------------------------------------------------------------
// Steps

async function checkHealth() {
  let response;
  try {
    response = await fetch(`${BASE_URL}/health`, { signal: AbortSignal.timeout(5000) });
  } catch (error) {
    console.error(red(`The service is not reachable at ${BASE_URL} (${error.cause?.code ?? error.message}).`));
    console.error('Start the service with npm start first, or say where it runs: PORT=<port> npm run demo, or DEMO_BASE_URL=<url> npm run demo.');
    process.exit(1);
  }
  const health = await response.json().catch(() => null);
  if (!response.ok) {
    console.error(red(`GET /health answered ${response.status}: the service is up but not healthy.`));
    console.error(JSON.stringify(health, null, 2));
    console.error('Start the service with npm start first, and check its database.');
    process.exit(1);
  }
  const parts = Object.entries(health?.info ?? {}).map(([name, v]) => `${name} ${v.status}`);
  log(`Service at ${bold(BASE_URL)}: ${green(health?.status ?? 'ok')}${parts.length ? ` (${parts.join(', ')})` : ''}`);
}

async function createOrganization() {
  heading('1. A new organization on the free plan');
  const create = (id) => api('POST', '/api/admin/organizations', { id, name: 'Demo Organization', plan: 'free' }, [201, 409]);
  let id = ORG_ID;
  let { status, body } = await create(id);
  if (status === 409) {
    const fresh = `${ORG_ID}-${Date.now()}`;
    log(yellow(`Organization "${id}" exists already (409 ${body?.error ?? ''}): creating "${fresh}" instead.`));
    id = fresh;
    ({ status, body } = await create(id));
    if (status !== 201) throw new HttpError('POST', '/api/admin/organizations', status, body);
  }
  log(`Created ${bold(body.id)} "${body.name}" on plan ${bold(body.plan?.name ?? body.plan ?? 'free')}.`);
  const plans = await api('GET', '/api/plans');
  const list = Array.isArray(plans.body) ? plans.body : (plans.body?.items ?? plans.body?.plans ?? []);
  const free = list.find((p) => (p.name ?? p.key) === 'free');
  if (free) {
    const c = free.config ?? free;
    log(dim(`The free plan: ${int(c.monthlyCredits)} credits a month, ${int(c.limits?.aiCallsPerMonth)} AI calls, ${int(c.limits?.pdfExportsPerMonth)} PDF exports, overage: ${c.overageRate ? usd(c.overageRate) + '/credit' : 'none (hard cap)'}.`));
  }
  return id;
}

async function freePlanUntilCap(orgId) {
  heading('2. Working on the free plan until its hard cap');
  printEventHeader();
  // The first event carries an idempotency key and is sent twice, as a client retry would.
  const first = { ...FREE_SESSION[0], userId: 'alice', idempotencyKey: `demo-${orgId}-first-diagnose` };
  const firstOutcome = await track(orgId, first);
  if (firstOutcome.kind === 'accepted') await track(orgId, { ...first, note: 'retry, same idempotency key' });

  let capHit = null;
  for (let i = 1; i < 200 && !capHit; i++) {
    const spec = FREE_SESSION[i % FREE_SESSION.length];
    const outcome = await track(orgId, spec);
    if (outcome.kind === 'rejected') capHit = outcome.error;
  }
  if (!capHit) {
    log(red('The free plan never answered 402 within 200 events: is it still a hard cap?'));
    return;
  }
  log('');
  log(`${bold('Hard cap reached')}: ${capHit.error}: ${capHit.message}`);
  log(`  ${suggestionText(capHit.details)}`);
  return capHit;
}

async function upgradeToStarter(orgId) {
  heading('3. Upgrade to starter (effective now, used credits carry over)');
  const { body } = await api('PUT', `/api/admin/organizations/${encodeURIComponent(orgId)}/plan`, { plan: 'starter' });
  const planName = body?.plan?.name ?? body?.plan ?? 'starter';
  const usage = (await api('GET', orgPath(orgId, '/usage'))).body;
  log(`Plan is now ${bold(planName)}: allowance ${cr(usage.allowance)}, used ${cr(usage.used)}, remaining ${cr(usage.remaining)}, overage rate ${usage.plan?.overageRate ? usd(usage.plan.overageRate) + '/credit' : 'none'}.`);
  return usage;
}

async function starterIntoOverage(orgId) {
  heading('4. Heavier work on starter');
  printEventHeader();
  for (const spec of STARTER_WORK) await track(orgId, spec);

  // A batch that brings usage close to the allowance in one request.
  const before = (await api('GET', orgPath(orgId, '/usage'))).body;
  const target = Math.max(0, Number(before.remaining) - 40);
  const events = [];
  let planned = 0;
  for (let u = 0; events.length < 1000; u++) {
    const unit = batchUnit(u);
    const cost = unit.reduce((sum, e) => sum + BATCH_PRICE[e.eventType], 0);
    if (planned + cost > target) break;
    planned += cost;
    events.push(...unit.map((e, k) => ({ ...e, userId: USERS[(u + k) % USERS.length] })));
  }
  if (events.length > 0) {
    log('');
    log(`${bold('Batch')}: ${events.length} events in one request (POST …/usage/events {events: […]}), planned ~${cr(planned)} credits`);
    const { body } = await api('POST', orgPath(orgId, '/usage/events'), { events }, [200]);
    const results = body?.results ?? [];
    const byStatus = {};
    let credits = 0;
    let last = null;
    const notable = [];
    for (const item of results) {
      byStatus[item.status] = (byStatus[item.status] ?? 0) + 1;
      stats.tracked += 1;
      if (item.status === 'accepted') {
        recordAccepted(item.result);
        credits += Number(item.result.creditsConsumed);
        last = item.result;
        if (item.result.warnings?.length || Number(item.result.overageCredits) > 0) notable.push(item);
      } else if (item.status === 'duplicate') stats.duplicates += 1;
      else {
        stats.rejected += 1;
        notable.push(item);
      }
    }
    const summary = Object.entries(byStatus).map(([s, n]) => `${n} ${s}`).join(', ');
    log(`  -> ${summary}; ${cr(credits)} credits charged; remaining after the batch: ${last ? cr(last.remainingCredits) : '-'}`);
    for (const item of notable) {
      const tag = `  item ${padStart(item.index, 4)}  ${padEnd(item.status === 'rejected' ? events[item.index].eventType : item.result.eventType, 30)}`;
      if (item.status === 'rejected') log(`${tag}  ${rejectionText(item.error)}`);
      else log(`${tag}  ${padStart(cr(item.result.creditsConsumed), 8)}  ${warningText(item.result.warnings)}${Number(item.result.overageCredits) > 0 ? ' ' + yellow(`overage ${cr(item.result.overageCredits)}`) : ''}`);
    }
  }

  heading('5. Past the allowance: overage at the starter rate');
  printEventHeader();
  let overageEvents = 0;
  for (let i = 0; i < 60 && overageEvents < 4; i++) {
    const outcome = await track(orgId, STARTER_WORK[i % STARTER_WORK.length]);
    if (outcome.kind === 'rejected') {
      log(red('A starter event was rejected: the overage should have been accepted (is a spend cap set?).'));
      break;
    }
    if (outcome.kind === 'accepted' && Number(outcome.result.overageCredits) > 0) overageEvents += 1;
  }
}

/** The breakdown of a unit-priced event as one line: base, then each unit's quantity × rate = credits. */
function unitsText(breakdown) {
  const parts = Object.entries(breakdown?.units ?? {}).map(([name, u]) => `${int(u.quantity)} ${name} × ${u.creditsPerUnit} = ${u.credits}`);
  return `base ${breakdown?.baseCredits} + ${parts.join(' + ') || 'no units'}`;
}

async function tokensPricedCalls(orgId) {
  heading('6. Priced by tokens: llm_completion (units inputTokens 0.002, outputTokens 0.008 credits each)');
  // Tracked with the tokens known: credits = roundHalfUp2(base + Σ quantity × rate), each part in the breakdown.
  const tracked = (await api('POST', orgPath(orgId, '/usage/events'), { eventType: 'llm_completion', eventData: { units: { inputTokens: 1200, outputTokens: 300 } }, userId: 'alice' }, [201])).body;
  stats.tracked += 1;
  recordAccepted(tracked);
  log(`  tracked      ${padStart(cr(tracked.creditsConsumed), 8)} credits  ${dim(unitsText(tracked.breakdown))}`);

  // An unknown unit or a fractional count is 400, and nothing is written.
  const bad = (await api('POST', orgPath(orgId, '/usage/events'), { eventType: 'llm_completion', eventData: { units: { inputTokens: 1.5, imageTokens: 3 } } }, [400])).body;
  log(`  bad units    ${red(`x ${bad.error}`)} ${Object.keys(bad.details?.fields ?? {}).join(', ')}: nothing charged`);

  // The tokens are known only after the call: reserve (no quantities: the definition's maxUnits are held), then
  // commit the real counts, re-priced.
  const hold = (await api('POST', orgPath(orgId, '/usage/reservations'), { eventType: 'llm_completion', userId: 'bob' }, [201])).body;
  log(`  reserved     ${padStart(cr(hold.credits), 8)} credits  ${dim('held for maxUnits: 8,000 input + 2,000 output tokens')}`);
  const committed = (await api('POST', orgPath(orgId, `/usage/reservations/${hold.reservationId}/commit`), { eventData: { units: { inputTokens: 3100, outputTokens: 850 } } }, [200])).body;
  stats.tracked += 1;
  recordAccepted(committed);
  log(`  committed    ${padStart(cr(committed.creditsConsumed), 8)} credits  ${dim(unitsText(committed.breakdown))}`);

  // The same through a @TrackUsage route: the hold is the estimate (prompt tokens + maxTokens), the commit
  // charges the tokens the completion reported.
  const prompt = SAMPLE_TEXT.slice(0, 800);
  const response = await fetch(`${BASE_URL}/api/llm/complete`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${ADMIN_KEY}`, 'Content-Type': 'application/json', 'X-Organization-Id': orgId, 'X-User-Id': 'carol' },
    body: JSON.stringify({ prompt, maxTokens: 400 }),
  });
  const answer = await response.json();
  if (response.status !== 200) throw new HttpError('POST', '/api/llm/complete', response.status, answer);
  stats.tracked += 1;
  recordAccepted(answer.usage);
  log(`  @TrackUsage  ${padStart(cr(answer.usage.creditsConsumed), 8)} credits  ${dim(`POST /api/llm/complete used ${answer.tokens.inputTokens} input + ${answer.tokens.outputTokens} output tokens (the hold before the call: 200 prompt tokens + maxTokens 400)`)}`);
}

async function memberBudget(orgId) {
  heading('7. A budget inside the organization: dave may spend 30 credits a day');
  // Idempotent across runs: reuse dave's daily budget when an earlier run created it.
  const existing = (await api('GET', `/api/admin/organizations/${encodeURIComponent(orgId)}/budgets`)).body.items.find((b) => b.scope === 'user' && b.subject === 'dave' && b.period === 'day');
  const budget = existing ?? (await api('POST', `/api/admin/organizations/${encodeURIComponent(orgId)}/budgets`, { scope: 'user', subject: 'dave', credits: 30, period: 'day' }, [201])).body;
  log(`  budget ${dim(budget.id)}: ${cr(budget.credits)} credits per day for member dave, ${cr(budget.used)} used today`);
  printEventHeader();
  for (let i = 0; i < 6; i++) {
    const outcome = await track(orgId, { eventType: 'visuals_planning', eventData: { complexity: 1 }, userId: 'dave', note: 'complexity 1.0, dave' });
    if (outcome.kind === 'rejected') {
      const d = outcome.error.details ?? {};
      log(`  ${bold('Budget reached')}: ${outcome.error.error}: ${cr(d.used)} of ${cr(d.credits)} used by ${d.scope} ${d.subject}; the organization still has credits for everyone else.`);
      break;
    }
  }
  const after = (await api('GET', `/api/admin/organizations/${encodeURIComponent(orgId)}/budgets/${budget.id}`)).body;
  log(`  dave today: ${cr(after.used)} / ${cr(after.credits)} (remaining ${cr(after.remaining)})`);
}

async function printSummary(orgId) {
  const usage = (await api('GET', orgPath(orgId, '/usage'))).body;
  const notifications = (await api('GET', orgPath(orgId, '/notifications'))).body;

  heading(`Usage summary: ${orgId}`);
  const percent = Number(usage.percentUsed ?? 0);
  const barWidth = 40;
  const filled = Math.min(barWidth, Math.round((Math.min(percent, 100) / 100) * barWidth));
  const bar = '[' + '#'.repeat(filled) + '.'.repeat(barWidth - filled) + ']';
  const planLine = usage.plan ? `${usage.plan.displayName} (${usage.plan.name})` : '-';
  const rows = [
    ['Period', `${usage.period?.start?.slice(0, 10)} .. ${usage.period?.end?.slice(0, 10)} (UTC, end exclusive)`],
    ['Plan', planLine + (usage.pendingPlan ? `, switching to ${usage.pendingPlan.plan} on ${usage.pendingPlan.effectiveFrom.slice(0, 10)}` : '')],
    ['Overage rate', usage.plan?.overageRate ? `${usd(usage.plan.overageRate)} per credit` : 'none (hard cap)'],
    ['Allowance', `${cr(usage.allowance)} credits`],
    ['Used', `${cr(usage.used)} credits  (allowance ${cr(usage.allowanceUsed)}, top-ups ${cr(usage.topUpsUsed)}, overage ${cr(usage.overage?.credits)})`],
    ['Remaining', `${cr(usage.remaining)} credits  (top-ups left ${cr(usage.topUpsRemaining)})`],
    ['Top-ups', `${cr(usage.topUpsUsed)} used, ${cr(usage.topUpsRemaining)} remaining`],
    ['Overage', `${cr(usage.overage?.credits)} credits = ${usd(usage.overage?.cost)}  (spend cap: ${usage.overage?.spendCap === null || usage.overage?.spendCap === undefined ? 'none' : usd(usage.overage.spendCap)})`],
    ['Percent used', `${bar} ${percent.toFixed(2)}%`],
    ['Events', `${int(usage.events)} recorded this period`],
  ];
  const labelWidth = Math.max(...rows.map((r) => r[0].length));
  for (const [label, value] of rows) log(`  ${bold(padEnd(label, labelWidth))}  ${value}`);

  log('');
  log(bold('  Count limits'));
  table(
    [{ title: 'limit' }, { title: 'used', align: 'right' }, { title: 'limit', align: 'right' }, { title: 'left', align: 'right' }],
    Object.entries(usage.limits ?? {}).map(([key, l]) => [key, int(l.used), int(l.limit), l.limit === null ? '-' : int(Math.max(0, l.limit - l.used))]),
    '    ',
  );

  log('');
  log(bold('  Warnings this period'));
  if (!usage.warnings?.length) log(dim('    none'));
  else
    table(
      [{ title: 'threshold', align: 'right' }, { title: 'used', align: 'right' }, { title: 'of', align: 'right' }, { title: 'type' }, { title: 'at (UTC)' }],
      usage.warnings.map((w) => [pct(w.threshold), cr(w.used), cr(w.limit), w.type, (w.at ?? '').replace('T', ' ').slice(0, 19)]),
      '    ',
    );

  const items = notifications?.items ?? [];
  log('');
  log(bold(`  Notifications (${items.length}, newest first)`));
  if (!items.length) log(dim('    none'));
  else
    table(
      [{ title: 'period' }, { title: 'type' }, { title: 'threshold', align: 'right' }, { title: 'used', align: 'right' }, { title: 'of', align: 'right' }, { title: 'plan' }, { title: 'created (UTC)' }],
      items.map((n) => [n.period, n.type, pct(n.threshold), cr(n.used), cr(n.limit), n.payload?.plan ?? '', (n.createdAt ?? '').replace('T', ' ').slice(0, 19)]),
      '    ',
    );

  // What this demo saw accepted must be what the service reports as used.
  log('');
  log(bold('  This run'));
  log(`    ${stats.tracked} events sent: ${stats.accepted} accepted, ${stats.duplicates} duplicate, ${stats.rejected} rejected; ${cr(stats.credits)} credits charged, ${cr(stats.overage)} as overage`);
  const usedMatches = Math.abs(Number(usage.used) - stats.credits) < 0.005;
  const overageMatches = Math.abs(Number(usage.overage?.credits) - stats.overage) < 0.005;
  const partsAddUp = Math.abs(Number(usage.allowanceUsed) + Number(usage.topUpsUsed) + Number(usage.overage?.credits) - Number(usage.used)) < 0.005;
  if (usedMatches && overageMatches && partsAddUp) log(`    ${green('ok')}: the service's totals match the sum of the accepted events`);
  else {
    log(red(`    MISMATCH: the demo counted ${cr(stats.credits)} credits (${cr(stats.overage)} overage), the service reports used ${cr(usage.used)} = allowance ${cr(usage.allowanceUsed)} + top-ups ${cr(usage.topUpsUsed)} + overage ${cr(usage.overage?.credits)}`));
    return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------------------

async function main() {
  log(bold('Credit metering demo'));
  await checkHealth();
  const orgId = await createOrganization();
  await freePlanUntilCap(orgId);
  await upgradeToStarter(orgId);
  await starterIntoOverage(orgId);
  await tokensPricedCalls(orgId);
  await memberBudget(orgId);
  const consistent = await printSummary(orgId);
  log('');
  log(`Done. Explore further: GET ${BASE_URL}${orgPath(orgId, '/usage/events')} (the ledger), ${BASE_URL}/api/docs (the API).`);
  if (!consistent) process.exitCode = 1;
}

main().catch((error) => {
  if (error instanceof HttpError) {
    console.error('');
    console.error(red(`Unexpected answer: ${error.method} ${error.path} -> HTTP ${error.status}`));
    console.error(typeof error.body === 'string' ? error.body : JSON.stringify(error.body, null, 2));
  } else if (error?.cause?.code === 'ECONNREFUSED' || error?.cause?.code === 'ECONNRESET' || error?.name === 'TypeError') {
    console.error('');
    console.error(red(`Lost the connection to ${BASE_URL}: ${error.cause?.code ?? error.message}.`));
    console.error('Is the service still running? Start the service with npm start first.');
  } else {
    console.error(error);
  }
  process.exit(1);
});
