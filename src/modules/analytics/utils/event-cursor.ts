import { validationFailed } from '../../../common/errors/domain-error';

/**
 * The position in the event log, `(occurred_at, id)` of the last row of a page. `occurredAt` is kept as
 * PostgreSQL printed it (microseconds), so no precision is lost on the way through a JavaScript Date.
 */
export interface EventCursor {
  occurredAt: string;
  id: string;
}

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function encodeEventCursor(cursor: EventCursor): string {
  return Buffer.from(`${cursor.occurredAt}|${cursor.id}`, 'utf8').toString('base64url');
}

export function decodeEventCursor(value: string): EventCursor {
  const [occurredAt, id, extra] = Buffer.from(value, 'base64url').toString('utf8').split('|');
  if (extra !== undefined || !TIMESTAMP.test(occurredAt ?? '') || !UUID.test(id ?? '')) {
    throw validationFailed({ cursor: ['cursor is not one this API returned'] });
  }
  return { occurredAt, id };
}
