/**
 * The live definition of `ensure_usage_events_partition`: the one place its SQL lives. To change it, edit it here and add a
 * migration that applies it again (`applySqlFunctions(queryRunner, ['ensure_usage_events_partition'])`); test/sql-functions.e2e-spec.ts
 * fails while the database's body differs from this file.
 */
export const ensureUsageEventsPartition = String.raw`CREATE OR REPLACE FUNCTION ensure_usage_events_partition(p_month date)
 RETURNS void
 LANGUAGE plpgsql
AS $function$
      DECLARE
        v_start date := date_trunc('month', p_month)::date;
        v_name text := 'usage_events_' || to_char(v_start, 'YYYY_MM');
      BEGIN
        IF to_regclass(v_name) IS NULL THEN
          -- Bounds as explicit UTC instants: the session time zone must not move a month's edges.
          EXECUTE format('CREATE TABLE %I PARTITION OF usage_events FOR VALUES FROM (%L) TO (%L)',
                         v_name, v_start::text || ' 00:00:00+00', (v_start + interval '1 month')::date::text || ' 00:00:00+00');
        END IF;
      END $function$
`;
