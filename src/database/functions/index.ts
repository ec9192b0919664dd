import type { EntityManager } from 'typeorm';
import { consumeCredits } from './consume_credits.sql';
import { consumeCreditsMany } from './consume_credits_many.sql';
import { consumeCreditsOrgs } from './consume_credits_orgs.sql';
import { countIngestQueue } from './count_ingest_queue.sql';
import { ensurePeriodBalance } from './ensure_period_balance.sql';
import { ensureUsageEventsPartition } from './ensure_usage_events_partition.sql';
import { periodAcceptsEvents } from './period_accepts_events.sql';
import { periodPlan } from './period_plan.sql';
import { refundCredits } from './refund_credits.sql';
import { reserveCredits } from './reserve_credits.sql';
import { reserveCreditsMany } from './reserve_credits_many.sql';

/**
 * Every SQL function of the schema, by name, with its live definition (`CREATE OR REPLACE FUNCTION …`, not
 * schema-qualified: it is created in the schema the migrations run in). The ledger's rules live in these
 * bodies, and nowhere else: a change is an edit of the file. After the migrations, every start applies the
 * files whose body or arguments differ from what the database runs (syncSqlFunctions), so no database keeps
 * an older body than the code it runs with; test/sql-functions.e2e-spec.ts checks the result.
 */
export const SQL_FUNCTIONS: Record<string, string> = {
  consume_credits: consumeCredits,
  consume_credits_many: consumeCreditsMany,
  consume_credits_orgs: consumeCreditsOrgs,
  count_ingest_queue: countIngestQueue,
  ensure_period_balance: ensurePeriodBalance,
  ensure_usage_events_partition: ensureUsageEventsPartition,
  period_accepts_events: periodAcceptsEvents,
  period_plan: periodPlan,
  refund_credits: refundCredits,
  reserve_credits: reserveCredits,
  reserve_credits_many: reserveCreditsMany,
};

/** A function as the database runs it. */
export interface LiveSqlFunction {
  name: string;
  /** pg_proc.prosrc: the text between the dollar quotes. */
  body: string;
  /** pg_get_function_arguments: the header's argument list, defaults included. */
  args: string;
  result: string;
}

/** The functions of the current schema (not those of extensions). */
export async function liveSqlFunctions(manager: EntityManager): Promise<Map<string, LiveSqlFunction>> {
  const rows = (await manager.query(
    `SELECT p.proname AS name, p.prosrc AS body, pg_get_function_arguments(p.oid) AS args, pg_get_function_result(p.oid) AS result
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = current_schema() AND p.prokind = 'f'
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')`,
  )) as LiveSqlFunction[];
  return new Map(rows.map((r) => [r.name, r]));
}

/** The body between `AS $function$` and the closing `$function$` of a definition: what prosrc holds. */
export function bodyOf(definition: string): string {
  const match = /\nAS \$function\$([\s\S]*)\$function\$\s*$/.exec(definition);
  if (!match) throw new Error(`Not a definition as pg_get_functiondef prints it: ${definition.slice(0, 120)}`);
  return match[1];
}

/** The argument list of a definition's header, `name(<this>)`: what pg_get_function_arguments gives. */
export function argumentsOf(name: string, definition: string): string {
  const header = definition.split('\n')[0];
  const prefix = `CREATE OR REPLACE FUNCTION ${name}(`;
  if (!header.startsWith(prefix) || !header.endsWith(')')) throw new Error(`Unexpected header of ${name}: ${header}`);
  return header.slice(prefix.length, -1);
}

/**
 * Applies every file whose function is missing or differs (body or arguments) from the live one; returns
 * their names. Runs after the migrations, under their lock on PostgreSQL, so two instances starting at once
 * do not both replace a function.
 */
export async function syncSqlFunctions(manager: EntityManager): Promise<string[]> {
  const live = await liveSqlFunctions(manager);
  const applied: string[] = [];
  for (const [name, definition] of Object.entries(SQL_FUNCTIONS)) {
    const fn = live.get(name);
    if (fn && fn.body === bodyOf(definition) && fn.args === argumentsOf(name, definition)) continue;
    await manager.query(definition);
    applied.push(name);
  }
  return applied;
}
