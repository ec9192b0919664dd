import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A batch of debits in one round trip: consume_credits for each item, in order, inside one call. The rules
 * (and the balance row lock, taken by the first item and held to commit) are consume_credits' own, so a batch
 * behaves exactly like the same debits sent one by one in one transaction, without a round trip per event.
 */
export class ConsumeCreditsMany1764300005000 implements MigrationInterface {
  name = 'ConsumeCreditsMany1764300005000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE FUNCTION consume_credits_many(p_org text, p_now timestamptz, p_items jsonb)
      RETURNS TABLE (i integer, status text, from_allowance numeric, from_grants numeric, overage numeric, grant_takes jsonb,
                     remaining numeric, consumed_before numeric, consumed_after numeric, allowance numeric, limit_used integer)
      LANGUAGE plpgsql AS $$
      DECLARE
        it record;
        r record;
      BEGIN
        FOR it IN SELECT * FROM jsonb_to_recordset(p_items)
                    AS x(i integer, period date, plan text, allowance numeric, amount numeric, overage_rate numeric,
                         spend_cap numeric, limit_key text, lim integer)
                  ORDER BY x.i LOOP
          SELECT * INTO r FROM consume_credits(p_org, it.period, it.plan, it.allowance, it.amount, it.overage_rate,
                                               it.spend_cap, it.limit_key, it.lim, p_now);
          i := it.i; status := r.status; from_allowance := r.from_allowance; from_grants := r.from_grants;
          overage := r.overage; grant_takes := r.grant_takes; remaining := r.remaining;
          consumed_before := r.consumed_before; consumed_after := r.consumed_after; allowance := r.allowance;
          limit_used := r.limit_used;
          RETURN NEXT;
        END LOOP;
      END $$`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP FUNCTION consume_credits_many`);
  }
}
