import 'reflect-metadata';
import { performance } from 'node:perf_hooks';
import { loadConfigFromEnvironment } from '../src/config/config-root.module';
import type { AppConfig } from '../src/config/app-config';
import { openDataSource } from '../src/database/open-data-source';
import type { ManagedDataSource } from '../src/database/managed-data-source';
import { SEED_EVENTS, SEED_PLANS } from './catalogue';
import { seedCatalogue } from './seed-catalogue';

/**
 * `npm run seed`: migrates the database and loads the seed catalogue (docs/catalogue.md), then reports what
 * is there. Idempotent: existing definitions, even ones an operator changed or deactivated, are left alone.
 *
 * Opening the data source already migrates and seeds (the service does the same at start-up), so the
 * explicit seedCatalogue() call below normally inserts nothing; what the opening inserted is found in the
 * version history (seed entries written since this command started).
 */

interface TableCounts {
  total: number;
  active: number;
  fromSeed: number;
}

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

async function counts(dataSource: ManagedDataSource, table: string, keyColumn: string, seedKeys: string[]): Promise<TableCounts> {
  const rows = (await dataSource.query(
    `SELECT count(*)::int AS total,
            count(*) FILTER (WHERE is_active)::int AS active,
            count(*) FILTER (WHERE ${keyColumn} = ANY($1::text[]))::int AS "fromSeed"
       FROM ${table}`,
    [seedKeys],
  )) as TableCounts[];
  return rows[0];
}

/**
 * Seed history entries written in the last `seconds` by the database's clock. Only a duration crosses from
 * this process to the database, so a clock difference between the two does not matter.
 */
async function seededSince(dataSource: ManagedDataSource, seconds: number): Promise<{ event: number; plan: number }> {
  const rows = (await dataSource.query(
    `SELECT kind, count(*)::int AS n FROM definition_versions
      WHERE action = 'seed' AND created_at > now() - make_interval(secs => $1) GROUP BY kind`,
    [seconds],
  )) as Array<{ kind: 'event' | 'plan'; n: number }>;
  return { event: rows.find((r) => r.kind === 'event')?.n ?? 0, plan: rows.find((r) => r.kind === 'plan')?.n ?? 0 };
}

async function main(): Promise<void> {
  // The same .env reading and validation as the service (@nestjs/config).
  const { config } = await loadConfigFromEnvironment();
  const startedAt = performance.now();
  const dataSource = await openDataSource(config);
  try {
    const again = await seedCatalogue(dataSource.manager);
    // No margin: the database's now() is later than this instant, so the window starts at or after our
    // start (never reaching an earlier run), and the seeding transaction began well inside it.
    const atOpen = await seededSince(dataSource, (performance.now() - startedAt) / 1000);
    const events = await counts(dataSource, 'event_definitions', 'event_type', SEED_EVENTS.map((e) => e.eventType));
    const plans = await counts(dataSource, 'plan_definitions', 'name', SEED_PLANS.map((p) => p.name));

    const eventsInserted = Math.max(atOpen.event, again.eventsInserted);
    const plansInserted = Math.max(atOpen.plan, again.plansInserted);
    const out = process.stdout;
    out.write(`Seed catalogue -> ${describeTarget(config)}\n`);
    out.write(`  inserted by this run: ${eventsInserted} event definition(s), ${plansInserted} plan(s)\n`);
    out.write(`  event definitions present: ${events.total} (${events.active} active; ${events.fromSeed} of ${SEED_EVENTS.length} from the seed catalogue)\n`);
    out.write(`  plan definitions present:  ${plans.total} (${plans.active} active; ${plans.fromSeed} of ${SEED_PLANS.length} from the seed catalogue)\n`);
    if (events.fromSeed === SEED_EVENTS.length && plans.fromSeed === SEED_PLANS.length) {
      out.write('Catalogue up to date.\n');
    } else {
      // Cannot happen after a successful seed (nothing deletes definitions), but say so rather than claim success.
      throw new Error(`Seed catalogue incomplete: ${events.fromSeed}/${SEED_EVENTS.length} events, ${plans.fromSeed}/${SEED_PLANS.length} plans present`);
    }
  } finally {
    await dataSource.destroy();
  }
}

main().catch((error: unknown) => {
  const message = error instanceof Error ? error.message.replace(/\s*\n\s*/g, ' ') : String(error);
  process.stderr.write(`Seed failed: ${message}\n`);
  process.exit(1);
});
