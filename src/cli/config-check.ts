import 'reflect-metadata';
import { loadConfigFromEnvironment } from '../config/config-root.module';
import type { AppConfig } from '../config/app-config';
import { DomainError } from '../common/errors/domain-error';
import type { FieldErrors } from '../common/errors/domain-error';
import { isPlainObject } from '../common/validation/json-validators';
import { openDataSource } from '../database/open-data-source';
import type { ManagedDataSource } from '../database/managed-data-source';
import { validateEventDefinition } from '../modules/events/utils/event-definition.validator';
import { validatePlanDefinition } from '../modules/plans/utils/plan-definition.validator';

/**
 * `npm run config:check`: prints the event and plan catalogue stored in the database, what a freshly started
 * instance would hold in its definition caches, and every stored definition that today's validators reject
 * (with one message per field). Exit code 1 when any definition is invalid, else 0.
 */

interface EventRow {
  event_type: string;
  is_active: boolean;
  version: number;
  config: unknown;
}

interface PlanRow {
  name: string;
  is_active: boolean;
  version: number;
  config: unknown;
}

interface Finding {
  kind: 'event' | 'plan';
  key: string;
  version: number;
  fields: FieldErrors;
}

type Cell = string | number;

// ---- formatting ------------------------------------------------------------------------------------------

/** An aligned text table: numbers (and cells that look like numbers) right-aligned, text left-aligned. */
function table(headers: string[], rows: Cell[][], indent = '  '): string {
  const text = rows.map((row) => row.map((cell) => String(cell)));
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((row) => typeof row[i] === 'number' || /^-?[\d.,]+$|^-$/.test(String(row[i]))));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((row) => row[i].length)));
  const line = (cells: string[]): string =>
    indent +
    cells
      .map((cell, i) => (numeric[i] ? cell.padStart(widths[i]) : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...text.map(line)].join('\n');
}

/** A value of the wrong type, shown as JSON (shortened) so the table points at it. */
function raw(value: unknown): string {
  const json = JSON.stringify(value) ?? String(value);
  return json.length > 24 ? `${json.slice(0, 23)}…` : json;
}

function obj(value: unknown): Record<string, unknown> {
  return isPlainObject(value) ? value : {};
}

function num(value: unknown, decimals?: number): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) return value === undefined || value === null ? '-' : raw(value);
  return decimals === undefined ? String(value) : value.toFixed(decimals);
}

/** 1 -> "1.0", 2.5 -> "2.5": complexity factors read as factors. */
function factor(value: unknown): string {
  return typeof value === 'number' && Number.isInteger(value) ? value.toFixed(1) : num(value);
}

function text(value: unknown): string {
  return typeof value === 'string' && value !== '' ? value : value === undefined || value === null || value === '' ? '-' : raw(value);
}

function yesNo(value: boolean): string {
  return value ? 'yes' : 'no';
}

function eventCells(row: EventRow): Cell[] {
  const config = obj(row.config);
  const multipliers = obj(config.multipliers);
  const complexity = isPlainObject(multipliers.complexity) ? multipliers.complexity : undefined;
  const features = Object.entries(obj(multipliers.features))
    .map(([name, bonus]) => `${name} ${num(bonus)}`)
    .join(', ');
  return [
    row.event_type,
    text(config.category),
    num(config.baseCredits),
    complexity ? `${factor(complexity.min)}..${factor(complexity.max)}` : '-',
    features || '-',
    Array.isArray(config.countsToward) ? config.countsToward.join(', ') || '-' : text(config.limitKey),
    yesNo(row.is_active),
    row.version,
  ];
}

function planCells(row: PlanRow): Cell[] {
  const config = obj(row.config);
  const pricing = obj(config.pricing);
  return [
    row.name,
    num(config.monthlyCredits),
    num(pricing.monthly, 2),
    num(pricing.annual, 2),
    config.overageRate === null ? 'hard cap' : num(config.overageRate),
    yesNo(row.is_active),
    row.version,
  ];
}

// ---- validation ------------------------------------------------------------------------------------------

/** Runs a validator and returns its field messages (empty when the definition is valid). */
function fieldErrors(validate: () => unknown): FieldErrors {
  try {
    validate();
    return {};
  } catch (error) {
    if (error instanceof DomainError) {
      const fields = error.details?.fields;
      if (isPlainObject(fields) && Object.keys(fields).length > 0) return fields as FieldErrors;
      return { definition: [error.message] };
    }
    return { definition: [`validator failed: ${error instanceof Error ? error.message : String(error)}`] };
  }
}

function checkEvent(row: EventRow): Finding | undefined {
  const config = row.config;
  const fields = isPlainObject(config)
    ? fieldErrors(() => validateEventDefinition({ eventType: row.event_type, ...config, isActive: row.is_active }))
    : { config: ['the stored config must be a JSON object'] };
  return Object.keys(fields).length > 0 ? { kind: 'event', key: row.event_type, version: row.version, fields } : undefined;
}

function checkPlan(row: PlanRow): Finding | undefined {
  const config = row.config;
  const fields = isPlainObject(config)
    ? fieldErrors(() => validatePlanDefinition({ name: row.name, ...config, isActive: row.is_active }))
    : { config: ['the stored config must be a JSON object'] };
  return Object.keys(fields).length > 0 ? { kind: 'plan', key: row.name, version: row.version, fields } : undefined;
}

// ---- main ------------------------------------------------------------------------------------------------

function describeTarget(config: AppConfig): string {
  if (!config.databaseUrl) return `embedded database in ${config.dataDir}`;
  try {
    const url = new URL(config.databaseUrl);
    // Never print credentials.
    return `PostgreSQL ${url.hostname}${url.port ? `:${url.port}` : ''}${url.pathname}`;
  } catch {
    return 'PostgreSQL (DATABASE_URL)';
  }
}

async function readCatalogue(dataSource: ManagedDataSource): Promise<{ events: EventRow[]; plans: PlanRow[] }> {
  const events = (await dataSource.query(
    `SELECT event_type, is_active, version, config FROM event_definitions ORDER BY category, event_type`,
  )) as EventRow[];
  const plans = (await dataSource.query(
    `SELECT name, is_active, version, config FROM plan_definitions ORDER BY sort_order, name`,
  )) as PlanRow[];
  return { events, plans };
}

function report(config: AppConfig, events: EventRow[], plans: PlanRow[]): number {
  const out: string[] = [];
  out.push(`Configuration check -> ${describeTarget(config)}`, '');

  out.push(`Event definitions (${events.length})`);
  out.push(table(['type', 'category', 'base credits', 'complexity', 'features', 'limit key', 'active', 'version'], events.map(eventCells)), '');

  out.push(`Plan definitions (${plans.length})`);
  out.push(table(['name', 'monthly credits', 'monthly $', 'annual $', 'overage rate', 'active', 'version'], plans.map(planCells)), '');

  // Each registry's snapshot holds every row, active or not (inactive ones answer history and old events).
  out.push('Cache (what a freshly started instance loads into its definition registries)');
  out.push(
    table(
      ['registry', 'entries', 'active', 'inactive', 'ttl (s)'],
      [
        ['events', events.length, events.filter((e) => e.is_active).length, events.filter((e) => !e.is_active).length, config.configCacheTtlSeconds],
        ['plans', plans.length, plans.filter((p) => p.is_active).length, plans.filter((p) => !p.is_active).length, config.configCacheTtlSeconds],
      ],
    ),
  );
  out.push(`  CONFIG_CACHE_TTL_SECONDS=${config.configCacheTtlSeconds}; shared store and change bus: ${config.redisUrl ? 'Redis (REDIS_URL)' : 'none (in-process only)'}`, '');

  const findings = [...events.map(checkEvent), ...plans.map(checkPlan)].filter((f): f is Finding => f !== undefined);
  if (findings.length === 0) {
    out.push(`All ${events.length} event definition(s) and ${plans.length} plan definition(s) are valid.`);
  } else {
    out.push(`Invalid definitions (${findings.length})`);
    for (const finding of findings) {
      out.push(`  ${finding.kind} ${finding.key} (version ${finding.version})`);
      for (const [field, messages] of Object.entries(finding.fields)) {
        for (const message of messages) out.push(`    ${field}: ${message}`);
      }
    }
    out.push('', `${findings.length} invalid definition(s) of ${events.length + plans.length}.`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
  return findings.length > 0 ? 1 : 0;
}

async function main(): Promise<number> {
  // The same .env reading and validation as the service (@nestjs/config).
  const { config } = await loadConfigFromEnvironment();
  const dataSource = await openDataSource(config);
  try {
    const { events, plans } = await readCatalogue(dataSource);
    return report(config, events, plans);
  } finally {
    await dataSource.destroy();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const message = error instanceof Error ? error.message.replace(/\s*\n\s*/g, ' ') : String(error);
    process.stderr.write(`Configuration check failed: ${message}\n`);
    process.exit(1);
  },
);
