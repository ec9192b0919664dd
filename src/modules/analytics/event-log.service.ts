import { Injectable, StreamableFile } from '@nestjs/common';
import { Readable } from 'node:stream';
import { validationFailed } from '../../common/errors/domain-error';
import { hundredthsFromDecimalString, hundredthsToNumber } from '../../common/money/credits';
import { OrganizationsService } from '../organizations/organizations.service';
import type { EventLogQueryDto } from './dto/analytics-query.dto';
import { EventLogRepository } from './event-log.repository';
import type { EventLogFilter, EventLogRow, RefusedEventLogRow } from './event-log.repository';
import { wantsCsv } from './utils/content-negotiation';
import { csvLine } from './utils/csv';
import { decodeEventCursor, encodeEventCursor } from './utils/event-cursor';
import type { EventCursor } from './utils/event-cursor';

const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;
const CSV_PAGE = 1000;
const CSV_COLUMNS = ['id', 'occurred_at', 'recorded_at', 'event_type', 'category', 'user_id', 'credits', 'from_allowance', 'from_grants', 'overage', 'definition_version', 'idempotency_key', 'endpoint', 'stop_reason'];

const credits = (value: string) => hundredthsToNumber(hundredthsFromDecimalString(value));

function toEvent(row: EventLogRow) {
  return {
    id: row.id,
    eventType: row.event_type,
    category: row.category,
    userId: row.user_id,
    occurredAt: new Date(row.occurred_at).toISOString(),
    recordedAt: new Date(row.recorded_at).toISOString(),
    credits: credits(row.credits),
    fromAllowance: credits(row.from_allowance),
    fromTopUps: credits(row.from_grants),
    overageCredits: credits(row.overage),
    definitionVersion: row.definition_version,
    breakdown: row.breakdown,
    idempotencyKey: row.idempotency_key,
    endpoint: row.endpoint,
  };
}

function toRefused(row: RefusedEventLogRow) {
  return {
    id: row.id,
    status: 'refused' as const,
    eventType: row.event_type,
    userId: row.user_id,
    occurredAt: row.occurred_at_text.replace(/(\.\d{3})\d*Z$/, '$1Z'),
    recordedAt: new Date(row.recorded_at).toISOString(),
    credits: row.credits === null ? null : credits(row.credits),
    error: row.error,
    message: row.message,
    source: row.source,
    idempotencyKey: row.idempotency_key,
  };
}

function toCsv(row: EventLogRow): string {
  return csvLine([
    row.id,
    row.occurred_at_text,
    new Date(row.recorded_at).toISOString(),
    row.event_type,
    row.category,
    row.user_id,
    row.credits,
    row.from_allowance,
    row.from_grants,
    row.overage,
    row.definition_version,
    row.idempotency_key,
    row.endpoint,
    stopReasonOf(row.breakdown),
  ]);
}

/** A streamed call's stop reason, as its price breakdown keeps it; empty for an ordinary call. */
function stopReasonOf(breakdown: unknown): string | null {
  const reason = breakdown && typeof breakdown === 'object' ? (breakdown as { stopReason?: unknown }).stopReason : undefined;
  return typeof reason === 'string' ? reason : null;
}

const cursorOf = (row: EventLogRow): EventCursor => ({ occurredAt: row.occurred_at_text, id: row.id });

/** The event log: cursor pages as JSON, or the whole filtered log streamed as CSV. */
@Injectable()
export class EventLogService {
  constructor(
    private readonly organizations: OrganizationsService,
    private readonly events: EventLogRepository,
  ) {}

  async list(organizationId: string, query: EventLogQueryDto, accept: string | undefined) {
    await this.organizations.getRow(organizationId);
    const filter = this.filter(organizationId, query);
    const after = query.cursor === undefined ? undefined : decodeEventCursor(query.cursor);
    const refused = query.status === 'refused';
    if (refused && wantsCsv(query.format, accept)) throw validationFailed({ status: ['refused events are listed as JSON only'] });
    if (wantsCsv(query.format, accept)) return this.csv(organizationId, filter, after, query.limit);
    const limit = query.limit ?? DEFAULT_PAGE;
    if (limit > MAX_PAGE) throw validationFailed({ limit: [`a JSON page holds at most ${MAX_PAGE} events (CSV exports take more)`] });
    if (refused) {
      // Asynchronous events that did not fit when written: kept here, never charged (SPEC 5).
      const rows = await this.events.refusedPage(filter, after, limit + 1);
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      return { items: page.map(toRefused), nextCursor: rows.length > limit ? encodeEventCursor({ occurredAt: last.occurred_at_text, id: last.id }) : null };
    }
    const rows = await this.events.page(filter, after, limit + 1);
    const page = rows.slice(0, limit);
    return { items: page.map(toEvent), nextCursor: rows.length > limit ? encodeEventCursor(cursorOf(page[page.length - 1])) : null };
  }

  private filter(organizationId: string, query: EventLogQueryDto): EventLogFilter {
    const from = query.from === undefined ? undefined : new Date(query.from);
    const to = query.to === undefined ? undefined : new Date(query.to);
    if (from && to && from >= to) throw validationFailed({ to: ['to must be after from'] });
    return { organizationId, eventType: query.eventType, userId: query.userId, from, to };
  }

  /** Streams in keyset pages: memory stays flat, and no connection is held between pages (PGlite has one). */
  private csv(organizationId: string, filter: EventLogFilter, start: EventCursor | undefined, max: number | undefined): StreamableFile {
    const events = this.events;
    async function* lines(): AsyncGenerator<string> {
      yield csvLine(CSV_COLUMNS);
      let after = start;
      let left = max ?? Number.POSITIVE_INFINITY;
      while (left > 0) {
        const rows = await events.page(filter, after, Math.min(CSV_PAGE, left));
        if (rows.length > 0) yield rows.map(toCsv).join('');
        if (rows.length < Math.min(CSV_PAGE, left)) return;
        left -= rows.length;
        after = cursorOf(rows[rows.length - 1]);
      }
    }
    return new StreamableFile(Readable.from(lines(), { objectMode: false }), {
      type: 'text/csv; charset=utf-8',
      disposition: `attachment; filename="usage-events-${organizationId}.csv"`,
    });
  }
}
