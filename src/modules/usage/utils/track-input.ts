import type { FirstAnswer } from '../../../../libs/contracts/src/idempotent-replay';
import { plainToInstance } from 'class-transformer';
import { isISO8601, validateSync } from 'class-validator';
import { createHash } from 'node:crypto';
import { DomainError, FieldErrors, validationFailed } from '../../../common/errors/domain-error';
import { flattenValidationErrors } from '../../../common/errors/validation-errors';
import { isPlainObject } from '../../../common/validation/json-validators';
import { TrackEventDto } from '../dto/track-event.dto';

export const MAX_EVENT_DATA_BYTES = 16 * 1024;
export const MAX_BATCH_EVENTS = 1000;
export const MAX_FUTURE_MS = 5 * 60 * 1000;

// The body field's rule (@Length(1, 255) + @Matches printable ASCII), also the Idempotency-Key header's.
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
const TRACK_EVENT_FIELDS = new Set(['eventType', 'eventData', 'userId', 'occurredAt', 'idempotencyKey']);
// Printable ASCII only: for these strings the UTF-16 length is the length class-validator's @Length counts
// (validator.js discounts surrogate pairs and U+FE0E/U+FE0F), so the fast check never accepts what it refuses.
const EVENT_TYPE_FAST = /^[\x20-\x7e]{1,64}$/;
const USER_ID_FAST = /^[\x20-\x7e]{1,128}$/;
const ISO8601_STRICT = { strict: true, strictSeparator: true };

/**
 * The TrackEventDto rules checked directly on the parsed JSON (a batch runs this up to 1,000 times a
 * request; plainToInstance + validateSync cost ~30 µs an event in the profile). It only ever answers "valid"
 * for a body the DTO accepts; anything it is unsure of (a null field, non-ASCII text, any error) returns
 * undefined and goes to class-validator, which then decides and words the errors, so the 400 bodies stay
 * exactly what they were.
 */
function fastTrackEvent(plain: Record<string, unknown>): TrackEventDto | undefined {
  for (const key in plain) if (!TRACK_EVENT_FIELDS.has(key)) return undefined;
  const { eventType, eventData, userId, occurredAt, idempotencyKey } = plain;
  if (typeof eventType !== 'string' || !EVENT_TYPE_FAST.test(eventType)) return undefined;
  if (eventData !== undefined && !isPlainObject(eventData)) return undefined;
  if (userId !== undefined && (typeof userId !== 'string' || !USER_ID_FAST.test(userId))) return undefined;
  if (occurredAt !== undefined && (typeof occurredAt !== 'string' || !isISO8601(occurredAt, ISO8601_STRICT))) return undefined;
  if (idempotencyKey !== undefined && (typeof idempotencyKey !== 'string' || !IDEMPOTENCY_KEY.test(idempotencyKey))) return undefined;
  // The same own fields plainToInstance would set (absent stays absent); eventData is the parsed JSON itself.
  const dto = {} as TrackEventDto;
  dto.eventType = eventType;
  if (eventData !== undefined) dto.eventData = eventData;
  if (userId !== undefined) dto.userId = userId;
  if (occurredAt !== undefined) dto.occurredAt = occurredAt;
  if (idempotencyKey !== undefined) dto.idempotencyKey = idempotencyKey;
  return dto;
}

/**
 * Validates one tracking request (a single body, or one item of a batch) with the DTO's rules, forbidding
 * unknown fields. Returns the DTO, or throws VALIDATION_FAILED (413 for an oversized eventData).
 */
export function parseTrackEvent(plain: unknown, prefix = ''): TrackEventDto {
  if (!isPlainObject(plain)) throw validationFailed({ [prefix || 'body']: ['must be a JSON object'] });
  const fast = fastTrackEvent(plain);
  if (fast) {
    assertEventDataSize(fast.eventData);
    return fast;
  }
  return parseTrackEventSlow(plain, prefix);
}

/** The class-validator path: the reference for the rules and the only place that words their errors. */
export function parseTrackEventSlow(plain: Record<string, unknown>, prefix = ''): TrackEventDto {
  const dto = plainToInstance(TrackEventDto, plain);
  const errors = validateSync(dto, { whitelist: true, forbidNonWhitelisted: true });
  if (errors.length > 0) {
    const fields: FieldErrors = {};
    for (const [path, messages] of Object.entries(flattenValidationErrors(errors))) fields[prefix ? `${prefix}.${path}` : path] = messages;
    throw validationFailed(fields);
  }
  if (dto.eventData !== undefined && !isPlainObject(plain.eventData)) throw validationFailed({ [prefix ? `${prefix}.eventData` : 'eventData']: ['eventData must be a JSON object'] });
  assertEventDataSize(dto.eventData);
  return dto;
}

/**
 * The Idempotency-Key header, held to the body field's rule (SPEC 5: 1 to 255 printable ASCII characters):
 * anything else is 400 before any work, never a key the index cannot hold.
 */
export function parseIdempotencyHeader(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !IDEMPOTENCY_KEY.test(value)) {
    throw validationFailed({ 'Idempotency-Key': ['the Idempotency-Key header must be 1 to 255 printable ASCII characters without spaces (sent once)'] });
  }
  return value;
}

/** eventData is stored with every event: more than 16 KiB of JSON is refused with 413. */
export function assertEventDataSize(eventData: unknown): void {
  if (eventData !== undefined && Buffer.byteLength(JSON.stringify(eventData)) > MAX_EVENT_DATA_BYTES) {
    throw new DomainError('PAYLOAD_TOO_LARGE', `eventData is larger than ${MAX_EVENT_DATA_BYTES} bytes of JSON`, { limitBytes: MAX_EVENT_DATA_BYTES });
  }
}

/** The occurredAt of an event: now by default, never more than 5 minutes ahead. */
export function resolveOccurredAt(occurredAt: string | undefined, now: Date): Date {
  if (occurredAt === undefined) return now;
  const at = new Date(occurredAt);
  if (Number.isNaN(at.getTime()) || at.getUTCFullYear() < 2000) throw validationFailed({ occurredAt: ['occurredAt must be a valid date after 2000'] });
  if (at.getTime() - now.getTime() > MAX_FUTURE_MS) throw validationFailed({ occurredAt: ['occurredAt must not be more than 5 minutes in the future'] });
  return at;
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (isPlainObject(value) || (typeof value === 'object' && value !== null)) {
    const record = value as Record<string, unknown>;
    return Object.fromEntries(Object.keys(record).sort().map((k) => [k, canonical(record[k])]));
  }
  return value;
}

/**
 * What an idempotency key is bound to: the same key with another payload, or charged to another agent run,
 * is a conflict. Key order in objects does not matter; an occurredAt left to default is not part of it (a
 * retry happens later). The run is part of it only when there is one, so the hashes of calls without a run
 * are the ones stored before runs existed (a retry across an upgrade is still a replay).
 */
export function requestHash(input: { eventType: string; eventData?: unknown; userId?: string; occurredAt?: string; context?: { runId?: string } }): string {
  const runId = input.context?.runId;
  const payload = canonical({ eventType: input.eventType, eventData: input.eventData ?? {}, userId: input.userId ?? null, occurredAt: input.occurredAt ?? null, ...(runId ? { runId } : {}) });
  return createHash('sha256').update(JSON.stringify(payload)).digest('hex');
}

const UNSTORABLE = new Set(['too_large', 'not_json']);

/**
 * The `response` of a commit (what the metered route answered) as the replay protocol takes it: a status
 * (100 to 599) and either a body (any JSON) or the reason it is not sent. 400 for anything else.
 */
export function firstAnswerOf(raw: Record<string, unknown> | undefined): FirstAnswer | undefined {
  if (raw === undefined) return undefined;
  // JSON gives null, arrays and scalars too: each is a 400, never a destructuring error (a 500).
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw validationFailed({ response: ['response must be an object {status, body} or {status, unstorable}'] });
  const problems: Record<string, string[]> = {};
  const { status, body, unstorable, ...rest } = raw;
  if (!Number.isInteger(status) || (status as number) < 100 || (status as number) > 599) problems['response.status'] = ['status must be an HTTP status (an integer from 100 to 599)'];
  if (unstorable !== undefined && !UNSTORABLE.has(unstorable as string)) problems['response.unstorable'] = ["unstorable must be 'too_large' or 'not_json'"];
  if (unstorable === undefined && body === undefined) problems['response.body'] = ['give the body, or unstorable when it cannot be sent'];
  for (const key of Object.keys(rest)) problems[`response.${key}`] = [`property ${key} should not exist`];
  if (Object.keys(problems).length > 0) throw validationFailed(problems);
  return unstorable !== undefined ? { status: status as number, unstorable: unstorable as FirstAnswer['unstorable'] } : { status: status as number, body };
}
