import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';

/**
 * Issue 13, item 1: the ledger's tables have one writer, the ledger module. This scans the application's
 * sources (src/ and libs/; migrations, seeds, tests and bench are out of scope) and fails on any file outside
 * src/modules/ledger/ that writes one of them in SQL, or calls a SQL function that does.
 * Run from the repository root (as jest does). TABLE_OWNERSHIP_ROOT points the scan at another checkout (how the old layout was shown to fail).
 */
const LEDGER_TABLES = [
  'period_balances',
  'period_limit_counts', // the count-limit counters: written by the debit and the refund only
  'credit_grants',
  'grant_consumptions',
  'usage_events', // and its monthly partitions, usage_events_YYYY_MM
  'idempotency_keys',
  'reservations',
  'usage_rollups_daily',
  'usage_rollups_monthly',
  'webhook_deliveries',
  'webhook_attempts',
  'notifications',
  'refused_events',
];

/**
 * The SQL functions' definitions (src/database/functions): they run only when called, so what counts is
 * who calls them (CALL below), and that every function writing a ledger table is listed here.
 */
const FUNCTIONS_DIR = 'src/database/functions/';

/** SQL functions that write those tables (src/database/functions): calling one is writing them. */
const LEDGER_WRITING_FUNCTIONS = ['consume_credits', 'consume_credits_many', 'consume_credits_orgs', 'reserve_credits', 'reserve_credits_many', 'refund_credits', 'ensure_period_balance', 'ensure_usage_events_partition'];

const WRITE = /\b(INSERT\s+INTO|UPDATE|DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?|COPY)\s+(?:ONLY\s+)?((?:"?\w+"?\s*,\s*)*"?\w+"?)/gi;
const CALL = new RegExp(`\\b(${LEDGER_WRITING_FUNCTIONS.join('|')})\\s*\\(`, 'gi');

function isLedgerTable(name: string): boolean {
  const table = name.replace(/"/g, '').toLowerCase();
  return LEDGER_TABLES.includes(table) || /^usage_events_\d{4}_\d{2}$/.test(table);
}

/** Comments name tables and functions freely (`consume_credits(…) decides`); only code counts. */
function withoutComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

/** The writes of the tables `owned` picks in a source text: `INSERT INTO credit_grants`, … */
function tableWrites(source: string, owned: (table: string) => boolean): string[] {
  const code = withoutComments(source);
  const found: string[] = [];
  for (const m of code.matchAll(WRITE)) {
    const verb = m[1].replace(/\s+/g, ' ').toUpperCase();
    // TRUNCATE a, b: each listed table; every other verb names one.
    const tables = verb.startsWith('TRUNCATE') ? m[2].split(',') : [m[2].split(',')[0]];
    for (const t of tables.map((x) => x.trim())) if (owned(t)) found.push(`${verb} ${t.replace(/"/g, '').toLowerCase()}`);
  }
  return found;
}

/** The ledger writes in a source text: `INSERT INTO credit_grants`, `refund_credits(`, … */
export function ledgerWrites(source: string): string[] {
  const found = tableWrites(source, isLedgerTable);
  for (const m of withoutComments(source).matchAll(CALL)) found.push(`${m[1].toLowerCase()}()`);
  return found;
}

/**
 * Tables outside the ledger, each with its one writer: the repository of the module that owns it. Reading
 * them anywhere is fine; a second writer is how two copies of one rule drift apart.
 */
const SINGLE_WRITERS: Record<string, string> = {
  organizations: 'src/modules/organizations/organizations.repository.ts',
  organization_plans: 'src/modules/organizations/organizations.repository.ts',
  organization_members: 'src/modules/organizations/organizations.repository.ts',
  invoices: 'src/modules/analytics/billing.repository.ts',
  monthly_reports: 'src/modules/analytics/billing.repository.ts',
  ingest_queue: 'src/modules/ingest/postgres-ingest-queue.ts',
  ingest_receipts: 'src/modules/ingest/ingest-receipts.repository.ts',
  ingest_deliveries: 'src/modules/ingest/ingest-deliveries.repository.ts',
  runs: 'src/modules/runs/runs.repository.ts',
};

/** file -> the writes it makes of SINGLE_WRITERS tables it is not the writer of. */
function writersOtherThanOwners(root: string): Record<string, string[]> {
  const offenders: Record<string, string[]> = {};
  for (const file of [...sourceFiles(join(root, 'src')), ...sourceFiles(join(root, 'libs'))]) {
    const rel = relative(root, file).split(sep).join('/');
    if (rel.startsWith(FUNCTIONS_DIR)) continue;
    const writes = tableWrites(readFileSync(file, 'utf8'), (t) => {
      const owner = SINGLE_WRITERS[t.replace(/"/g, '').toLowerCase()];
      return owner !== undefined && owner !== rel;
    });
    if (writes.length > 0) offenders[rel] = writes;
  }
  return offenders;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : sourceFiles(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.spec.ts') && !e.name.endsWith('.generated.ts') ? [path] : [];
  });
}

/** file (relative to `root`) -> its ledger writes, for every file outside src/modules/ledger/ that has any. */
function writersOutsideLedger(root: string): Record<string, string[]> {
  const owner = join('src', 'modules', 'ledger') + sep;
  const offenders: Record<string, string[]> = {};
  for (const file of [...sourceFiles(join(root, 'src')), ...sourceFiles(join(root, 'libs'))]) {
    const rel = relative(root, file);
    if (rel.startsWith(owner) || rel.startsWith(FUNCTIONS_DIR)) continue;
    const writes = ledgerWrites(readFileSync(file, 'utf8'));
    if (writes.length > 0) offenders[rel.split(sep).join('/')] = writes;
  }
  return offenders;
}

/** Every module path a source text imports or re-exports (static and dynamic), as written. */
export function importedPaths(source: string): string[] {
  const code = withoutComments(source);
  const found: string[] = [];
  for (const m of code.matchAll(/\b(?:import|export)\s[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)|\bimport\s*['"]([^'"]+)['"]/g)) {
    found.push(m[1] ?? m[2] ?? m[3]);
  }
  return found;
}

/** file (relative to `root`) -> what it imports from src/modules/usage, for every file of the ledger folder (specs too). */
function ledgerImportsOfUsage(root: string): Record<string, string[]> {
  const ledger = join(root, 'src', 'modules', 'ledger');
  const usage = join(root, 'src', 'modules', 'usage') + sep;
  const files = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
  const offenders: Record<string, string[]> = {};
  // This file names usage/ paths as the scanner's own examples.
  for (const file of files(ledger).filter((f) => !f.endsWith('table-ownership.spec.ts'))) {
    const bad = importedPaths(readFileSync(file, 'utf8')).filter((path) => path.startsWith('.') && (join(dirname(file), path) + sep).startsWith(usage));
    if (bad.length > 0) offenders[relative(root, file).split(sep).join('/')] = bad;
  }
  return offenders;
}

// The ledger is called by usage (which validates and prices), never the other way round: a ledger file
// importing from usage/ is how the two modules' rules would tangle again. Its row builder and its SQL take
// their types from ledger.types.ts, so neither imports the other.
describe('ledger imports', () => {
  it('nothing in src/modules/ledger imports from src/modules/usage', () => {
    const root = process.env.TABLE_OWNERSHIP_ROOT ?? process.cwd();
    expect(ledgerImportsOfUsage(root)).toEqual({});
  });

  it('outside the ledger, debits, holds and keys go through LedgerService: nothing imports the debit, hold or key repositories', () => {
    const root = process.env.TABLE_OWNERSHIP_ROOT ?? process.cwd();
    const owner = join(root, 'src', 'modules', 'ledger') + sep;
    const offenders: Record<string, string[]> = {};
    for (const file of [...sourceFiles(join(root, 'src')), ...sourceFiles(join(root, 'libs'))]) {
      if (file.startsWith(owner)) continue;
      const bad = importedPaths(readFileSync(file, 'utf8')).filter((path) => /\/ledger\/(ledger\.repository|idempotency-keys\.repository|reservations\.repository)$/.test(path));
      if (bad.length > 0) offenders[relative(root, file).split(sep).join('/')] = bad;
    }
    expect(offenders).toEqual({});
  });

  it('ledger-entries.ts and ledger.repository.ts do not import each other', () => {
    const root = process.env.TABLE_OWNERSHIP_ROOT ?? process.cwd();
    const dir = join(root, 'src', 'modules', 'ledger');
    expect(importedPaths(readFileSync(join(dir, 'ledger-entries.ts'), 'utf8'))).not.toContain('./ledger.repository');
    expect(importedPaths(readFileSync(join(dir, 'ledger.repository.ts'), 'utf8'))).not.toContain('./ledger-entries');
  });

  it.each([
    ["import type { Prepared } from '../usage/usage.types';", ['../usage/usage.types']],
    ["import {\n  a,\n  b,\n} from './x';\nexport { c } from \"./y\";", ['./x', './y']],
    ["const m = await import('../usage/group-commit');", ['../usage/group-commit']],
    ["// import { x } from '../usage/y';\nconst a = 1;", []],
  ])('importedPaths(%j)', (source, expected) => {
    expect(importedPaths(source)).toEqual(expected);
  });
});

describe('ledger table ownership', () => {
  it('no file outside src/modules/ledger writes a ledger table or calls a ledger-writing SQL function', () => {
    const root = process.env.TABLE_OWNERSHIP_ROOT ?? process.cwd();
    expect(writersOutsideLedger(root)).toEqual({});
  });

  it('the ledger module itself is found writing them (the scan sees what it is meant to see)', () => {
    const root = process.cwd();
    const own = sourceFiles(join(root, 'src', 'modules', 'ledger')).flatMap((f) => ledgerWrites(readFileSync(f, 'utf8')));
    expect(own).toEqual(expect.arrayContaining(['INSERT INTO usage_events', 'INSERT INTO credit_grants', 'UPDATE reservations', 'UPDATE webhook_deliveries', 'refund_credits()', 'ensure_period_balance()']));
  });

  it('every SQL function whose body writes a ledger table is a ledger-writing function (its callers are checked)', () => {
    const root = process.cwd();
    const dir = join(root, FUNCTIONS_DIR);
    const writers = readdirSync(dir)
      .filter((f) => f.endsWith('.sql.ts'))
      .filter((f) => tableWrites(readFileSync(join(dir, f), 'utf8'), isLedgerTable).length > 0)
      .map((f) => f.replace(/\.sql\.ts$/, ''));
    expect(writers.length).toBeGreaterThan(0);
    for (const name of writers) expect(LEDGER_WRITING_FUNCTIONS).toContain(name);
  });

  it('every other owned table has one writer, its owner repository, which is found writing it', () => {
    const root = process.env.TABLE_OWNERSHIP_ROOT ?? process.cwd();
    expect(writersOtherThanOwners(root)).toEqual({});
    for (const [table, owner] of Object.entries(SINGLE_WRITERS)) {
      expect(tableWrites(readFileSync(join(root, owner), 'utf8'), (t) => t.replace(/"/g, '').toLowerCase() === table).length).toBeGreaterThan(0);
    }
  });

  describe('ledgerWrites', () => {
    it.each([
      ['INSERT INTO credit_grants (organization_id, id) VALUES ($1, $2)', ['INSERT INTO credit_grants']],
      ['UPDATE period_balances SET plan_name = $3 WHERE organization_id = $1', ['UPDATE period_balances']],
      ['update  "reservations" set status = $1', ['UPDATE reservations']],
      ['DELETE FROM usage_rollups_daily WHERE day = $1', ['DELETE FROM usage_rollups_daily']],
      ['TRUNCATE TABLE usage_events, organizations, grant_consumptions', ['TRUNCATE TABLE usage_events', 'TRUNCATE TABLE grant_consumptions']],
      ['INSERT INTO usage_events_2026_01 SELECT 1', ['INSERT INTO usage_events_2026_01']],
      ['COPY usage_events FROM STDIN', ['COPY usage_events']],
      ['UPDATE ONLY webhook_deliveries SET attempts = 1', ['UPDATE webhook_deliveries']],
      ['await m.query(`SELECT refund_credits($1, $2::date)`, [a, b])', ['refund_credits()']],
      ['SELECT count(ensure_period_balance(o.id, $1::date, $3))', ['ensure_period_balance()']],
      ['SELECT * FROM consume_credits_many($1, $2)', ['consume_credits_many()']],
      // Not writes of a ledger table:
      ['INSERT INTO organizations (id) VALUES ($1) ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name', []],
      ['SELECT coalesce(sum(remaining), 0) FROM credit_grants WHERE organization_id = $1', []],
      ['UPDATE budgets SET credits = $3', []],
      ['// consume_credits(…) decides under the lock\nconst x = 1;', []],
      ['/* refund_credits($1) gives it back */', []],
      ['const url = "postgres://h/db"; // UPDATE reservations later', []],
    ])('%s', (source, expected) => {
      expect(ledgerWrites(source)).toEqual(expected);
    });
  });
});
