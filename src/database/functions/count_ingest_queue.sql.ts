/**
 * The live definition of `count_ingest_queue`: the one place its SQL lives (src/database/functions/index.ts
 * applies it at start when the database's body differs). The trigger function of `ingest_queue`: every
 * statement that inserts or deletes queue rows adds what it inserted and takes away what it deleted on one
 * row of `ingest_queue_totals` (the backend's shard, one of 64: writers on two connections of the same shard
 * wait for each other's commit, every queue write being its transaction's last), in its own transaction: the
 * totals are exact for whatever commits, whoever writes the queue (the service, an operator deleting a
 * message by hand). A TRUNCATE zeroes them. The queue's lag reads 64 rows instead of counting the queue.
 * `SET search_path FROM CURRENT`: the schema the function was created in (metering's own schema when it has
 * one), not the path of whoever fires the trigger (an operator's session on `public` deleting
 * `metering.ingest_queue` would not find the totals, or update another schema's).
 */
export const countIngestQueue = String.raw`CREATE OR REPLACE FUNCTION count_ingest_queue()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path FROM CURRENT
AS $function$
    BEGIN
      IF TG_OP = 'TRUNCATE' THEN
        UPDATE ingest_queue_totals SET messages = 0, bytes = 0 WHERE messages <> 0 OR bytes <> 0;
      ELSIF TG_OP = 'INSERT' THEN
        UPDATE ingest_queue_totals t SET messages = t.messages + x.n, bytes = t.bytes + x.b
          FROM (SELECT count(*) AS n, coalesce(sum(r.bytes), 0) AS b FROM added_rows r) AS x
         WHERE t.shard = pg_backend_pid() % 64 AND x.n > 0;
      ELSE
        UPDATE ingest_queue_totals t SET messages = t.messages - x.n, bytes = t.bytes - x.b
          FROM (SELECT count(*) AS n, coalesce(sum(r.bytes), 0) AS b FROM removed_rows r) AS x
         WHERE t.shard = pg_backend_pid() % 64 AND x.n > 0;
      END IF;
      RETURN NULL;
    END
$function$
`;
