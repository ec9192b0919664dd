import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Two-phase tracking (reservations) and the webhook outbox.
 *
 * A pending reservation has already moved credits (consume_credits), so the balance invariant becomes:
 * period_balances.consumed = sum(usage_events.credits) + sum(pending reservations' credits), and a grant's
 * amount - remaining = its event consumptions + its pending reservations' takes.
 */
export class CreateReservationsAndWebhooks1764300004000 implements MigrationInterface {
  name = 'CreateReservationsAndWebhooks1764300004000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE reservations (
        organization_id    text NOT NULL REFERENCES organizations (id),
        id                 uuid NOT NULL,
        status             text NOT NULL CHECK (status IN ('pending', 'committed', 'released', 'expired')),
        period_start       date NOT NULL,
        occurred_at        timestamptz NOT NULL,
        event_type         text NOT NULL,
        user_id            text,
        event_data         jsonb NOT NULL,
        credits            numeric(18,2) NOT NULL,
        from_allowance     numeric(18,2) NOT NULL,
        from_grants        numeric(18,2) NOT NULL,
        overage            numeric(18,2) NOT NULL,
        grant_takes        jsonb NOT NULL,
        consumed_before    numeric(18,2) NOT NULL,
        consumed_after     numeric(18,2) NOT NULL,
        allowance          numeric(18,2) NOT NULL,
        remaining_after    numeric(18,2) NOT NULL,
        limit_key          text,
        idempotency_key    text,
        request_hash       text,
        event_id           uuid,
        context            jsonb,
        expires_at         timestamptz NOT NULL,
        created_at         timestamptz NOT NULL,
        settled_at         timestamptz,
        PRIMARY KEY (organization_id, id),
        CHECK (credits = from_allowance + from_grants + overage)
      )`);
    await queryRunner.query(`CREATE INDEX reservations_due_idx ON reservations (expires_at) WHERE status = 'pending'`);
    // A key names a live or charged reservation; a released or expired one frees it, so a retry after a failed
    // call reserves (and is charged) again instead of passing as a free duplicate.
    await queryRunner.query(
      `CREATE UNIQUE INDEX reservations_key_idx ON reservations (organization_id, idempotency_key)
        WHERE idempotency_key IS NOT NULL AND status IN ('pending', 'committed')`,
    );

    /*
     * Gives back exactly what a consume_credits call took (a reservation released, expired, or re-priced at
     * commit): the buckets, the grant takes, the event and the limit count. Under the same balance row lock.
     */
    await queryRunner.query(`
      CREATE FUNCTION refund_credits(
        p_org text, p_period date, p_from_allowance numeric, p_from_grants numeric, p_overage numeric,
        p_grant_takes jsonb, p_limit_key text, p_now timestamptz) RETURNS void
      LANGUAGE plpgsql AS $$
      #variable_conflict use_column
      DECLARE
        t jsonb;
      BEGIN
        PERFORM 1 FROM period_balances WHERE organization_id = p_org AND period_start = p_period FOR UPDATE;
        UPDATE period_balances SET
          allowance_used = allowance_used - p_from_allowance,
          grants_used = grants_used - p_from_grants,
          overage_used = overage_used - p_overage,
          consumed = consumed - (p_from_allowance + p_from_grants + p_overage),
          events = events - 1,
          ai_calls = ai_calls - (p_limit_key IS NOT DISTINCT FROM 'aiCallsPerMonth')::int,
          pdf_exports = pdf_exports - (p_limit_key IS NOT DISTINCT FROM 'pdfExportsPerMonth')::int,
          sessions = sessions - (p_limit_key IS NOT DISTINCT FROM 'sessionLimit')::int,
          updated_at = p_now
        WHERE organization_id = p_org AND period_start = p_period;
        FOR t IN SELECT * FROM jsonb_array_elements(p_grant_takes) LOOP
          UPDATE credit_grants SET remaining = remaining + (t->>'credits')::numeric
           WHERE organization_id = p_org AND id = (t->>'grantId')::uuid;
        END LOOP;
      END $$`);

    // The outbox: written in the transaction that records the notification, delivered after commit.
    await queryRunner.query(`
      CREATE TABLE webhook_deliveries (
        organization_id  text NOT NULL REFERENCES organizations (id),
        id               uuid NOT NULL,
        notification_id  uuid NOT NULL,
        event            text NOT NULL,
        payload          jsonb NOT NULL,
        status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
        attempts         integer NOT NULL DEFAULT 0,
        next_attempt_at  timestamptz NOT NULL,
        last_error       text,
        created_at       timestamptz NOT NULL,
        delivered_at     timestamptz,
        PRIMARY KEY (organization_id, id),
        UNIQUE (organization_id, notification_id)
      )`);
    await queryRunner.query(`CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending'`);
    await queryRunner.query(`
      CREATE TABLE webhook_attempts (
        organization_id  text NOT NULL,
        delivery_id      uuid NOT NULL,
        attempt          integer NOT NULL,
        url              text NOT NULL,
        status_code      integer,
        error            text,
        duration_ms      integer NOT NULL,
        attempted_at     timestamptz NOT NULL,
        PRIMARY KEY (organization_id, delivery_id, attempt)
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE webhook_attempts`);
    await queryRunner.query(`DROP TABLE webhook_deliveries`);
    await queryRunner.query(`DROP FUNCTION refund_credits`);
    await queryRunner.query(`DROP TABLE reservations`);
  }
}
