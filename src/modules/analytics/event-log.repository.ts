import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { EventCursor } from './utils/event-cursor';

export interface EventLogFilter {
  organizationId: string;
  eventType?: string;
  userId?: string;
  /** occurred_at >= from */
  from?: Date;
  /** occurred_at < to */
  to?: Date;
}

export interface EventLogRow {
  id: string;
  occurred_at_text: string;
  occurred_at: Date;
  recorded_at: Date;
  event_type: string;
  category: string;
  definition_version: number;
  user_id: string | null;
  credits: string;
  from_allowance: string;
  from_grants: string;
  overage: string;
  breakdown: unknown;
  idempotency_key: string | null;
  endpoint: string | null;
}

export interface RefusedEventLogRow {
  id: string;
  occurred_at_text: string;
  recorded_at: Date;
  event_type: string;
  user_id: string | null;
  credits: string | null;
  error: string;
  message: string;
  source: string;
  idempotency_key: string | null;
}

/**
 * The raw event log, newest first, by keyset on `(occurred_at, id)`: the primary key
 * (organization_id, occurred_at, id) serves both the order and the cursor, and from/to prune partitions.
 */
@Injectable()
export class EventLogRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * What each organization API key spent in one period (accepted events; `api_key_id` null: the admin key, or
   * events recorded before keys were kept). One organization's period through its period_start index; the
   * key's name and prefix come along (never its hash), a revoked key too.
   */
  async byApiKey(organizationId: string, periodStart: string): Promise<Array<{ api_key_id: string | null; name: string | null; prefix: string | null; revoked_at: Date | null; events: string; credits: string; overage: string }>> {
    return (await this.dataSource.query(
      `SELECT e.api_key_id, k.name, k.key_prefix AS prefix, k.revoked_at, count(*)::bigint AS events, sum(e.credits) AS credits, sum(e.overage) AS overage
         FROM usage_events e
         LEFT JOIN api_keys k ON k.organization_id = e.organization_id AND k.id::text = e.api_key_id
        WHERE e.organization_id = $1 AND e.period_start = $2::date
        GROUP BY e.api_key_id, k.name, k.key_prefix, k.revoked_at`,
      [organizationId, periodStart],
    )) as Array<{ api_key_id: string | null; name: string | null; prefix: string | null; revoked_at: Date | null; events: string; credits: string; overage: string }>;
  }

  /**
   * Credits per hour of `[from, to)` (at most a day: the daily rollups have no hours, so this reads raw
   * events, one organization's one day through the (organization_id, period_start, occurred_at) index).
   */
  async hourly(organizationId: string, periodStart: string, from: Date, to: Date): Promise<Array<{ hour: string; events: number; credits: string; overage: string }>> {
    const rows = (await this.dataSource.query(
      `SELECT to_char(date_trunc('hour', occurred_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD"T"HH24:00:00.000"Z"') AS hour, count(*)::int AS events,
              coalesce(sum(credits), 0) AS credits, coalesce(sum(overage), 0) AS overage
         FROM usage_events WHERE organization_id = $1 AND period_start = $4::date AND occurred_at >= $2 AND occurred_at < $3 GROUP BY 1 ORDER BY 1`,
      [organizationId, from, to, periodStart],
    )) as Array<{ hour: string; events: number; credits: string; overage: string }>;
    return rows;
  }

  async page(filter: EventLogFilter, after: EventCursor | undefined, limit: number): Promise<EventLogRow[]> {
    const { where, params } = whereOf(filter, after, limit);
    return (await this.dataSource.query(
      `SELECT id, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS occurred_at_text, occurred_at, recorded_at,
              event_type, category, definition_version, user_id, credits, from_allowance, from_grants, overage, breakdown, idempotency_key, endpoint
         FROM usage_events WHERE ${where}
        ORDER BY occurred_at DESC, id DESC LIMIT $${params.length}`,
      params,
    )) as EventLogRow[];
  }

  /** Asynchronous events refused when they were written (SPEC 5), with the same filters and cursor. */
  async refusedPage(filter: EventLogFilter, after: EventCursor | undefined, limit: number): Promise<RefusedEventLogRow[]> {
    const { where, params } = whereOf(filter, after, limit);
    return (await this.dataSource.query(
      `SELECT id, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS occurred_at_text, recorded_at,
              event_type, user_id, credits, error, message, source, idempotency_key
         FROM refused_events WHERE ${where}
        ORDER BY occurred_at DESC, id DESC LIMIT $${params.length}`,
      params,
    )) as RefusedEventLogRow[];
  }
}

/** The WHERE clause of a page (the last parameter is the limit). */
function whereOf(filter: EventLogFilter, after: EventCursor | undefined, limit: number): { where: string; params: unknown[] } {
  const params: unknown[] = [filter.organizationId];
  const where = ['organization_id = $1'];
  const add = (sql: (n: number) => string, value: unknown) => {
    params.push(value);
    where.push(sql(params.length));
  };
  if (filter.eventType !== undefined) add((n) => `event_type = $${n}`, filter.eventType);
  if (filter.userId !== undefined) add((n) => `user_id = $${n}`, filter.userId);
  if (filter.from !== undefined) add((n) => `occurred_at >= $${n}`, filter.from);
  if (filter.to !== undefined) add((n) => `occurred_at < $${n}`, filter.to);
  if (after) {
    params.push(after.occurredAt, after.id);
    where.push(`(occurred_at, id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`);
  }
  params.push(limit);
  return { where: where.join(' AND '), params };
}
