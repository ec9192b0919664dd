import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A monthly budget's window is the UTC month in which the charge is made, like a daily budget's day, never
 * the billing period of the event's `occurredAt`. Before, an event charged in the first hour of a month but
 * dated in the previous one (the grace window lets the previous period take late events) counted toward the
 * previous month's budget window: a key could spend its monthly budget twice in one real month.
 *
 * The debit already receives the charge's UTC day per event (`day`, the injected clock's day); the month
 * window becomes that day's month. The change is made to the live body of consume_credits_many (the one
 * place the rules live, last written by 1764300030000-AmountBounds) so that this migration carries only
 * what it changes: each of the three places that pick a monthly window must be found exactly once or twice
 * as expected, else the migration fails rather than leave a half-edited function.
 */
export class MonthlyBudgetWindowByChargeTime1764300042000 implements MigrationInterface {
  name = 'MonthlyBudgetWindowByChargeTime1764300042000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const [{ def }] = (await queryRunner.query(`SELECT pg_get_functiondef('consume_credits_many(text,timestamptz,integer,jsonb)'::regprocedure) AS def`)) as Array<{ def: string }>;
    const edits: Array<[from: string, to: string, times: number]> = [
      ['THEN coalesce(z.day, z.period) ELSE z.period END AS window_start', "THEN coalesce(z.day, z.period) ELSE date_trunc('month', coalesce(z.day, z.period))::date END AS window_start", 1],
      ["THEN coalesce(it.day, it.period) ELSE it.period END)", "THEN coalesce(it.day, it.period) ELSE date_trunc('month', coalesce(it.day, it.period))::date END)", 2],
    ];
    let body = def;
    for (const [from, to, times] of edits) {
      const found = body.split(from).length - 1;
      if (found !== times) throw new Error(`MonthlyBudgetWindowByChargeTime: expected ${times} of "${from}" in consume_credits_many, found ${found}`);
      body = body.split(from).join(to);
    }
    await queryRunner.query(body);
  }

  async down(): Promise<void> {
    throw new Error('MonthlyBudgetWindowByChargeTime1764300042000 is not reversible: restore from a backup');
  }
}
