/**
 * The live definition of `period_accepts_events`: the one place its SQL lives. To change it, edit it here and add a
 * migration that applies it again (`applySqlFunctions(queryRunner, ['period_accepts_events'])`); test/sql-functions.e2e-spec.ts
 * fails while the database's body differs from this file.
 */
export const periodAcceptsEvents = String.raw`CREATE OR REPLACE FUNCTION period_accepts_events(p_period date, p_now timestamp with time zone, p_grace_minutes integer)
 RETURNS boolean
 LANGUAGE sql
 STABLE
AS $function$
        SELECT p_period >= date_trunc('month', (p_now - make_interval(mins => p_grace_minutes)) AT TIME ZONE 'UTC')::date
      $function$
`;
