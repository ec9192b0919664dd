import { describe, expect, it } from '@jest/globals';
import { FakeClock } from '../../common/clock/clock';
import { DomainError } from '../../common/errors/domain-error';
import { loadConfig } from '../../config/app-config';
import { IngestBounds } from './ingest-bounds';
import type { IngestLag } from './ingest-queue.types';

function bounds(overrides: Record<string, string>, clock = new FakeClock()) {
  return { clock, bounds: new IngestBounds(clock, loadConfig(overrides)) };
}

async function refusal(p: Promise<void>): Promise<DomainError | undefined> {
  try {
    await p;
    return undefined;
  } catch (error) {
    return error as DomainError;
  }
}

describe('IngestBounds', () => {
  const lag = (l: Partial<IngestLag> = {}) => async (): Promise<IngestLag> => ({ waiting: 0, waitingBytes: 0, oldestAgeMs: 0, ...l });
  /** A measure that answers `l` and counts how often it was taken. */
  const counted = (l: Partial<IngestLag>) => {
    let n = 0;
    const answer = lag(l);
    return { measure: () => (n++, answer()), measures: () => n };
  };

  it.each([
    ['at the message bound', { INGEST_MAX_MESSAGES: '10' }, { waiting: 9 }, 1, 10, undefined],
    ['past the message bound', { INGEST_MAX_MESSAGES: '10' }, { waiting: 9 }, 2, 10, 2],
    ['past the byte bound', { INGEST_MAX_BYTES: '2048' }, { waitingBytes: 2000 }, 1, 100, 2],
    ['an oldest event too old: come back later', { INGEST_MAX_AGE_SECONDS: '60' }, { oldestAgeMs: 60_001 }, 1, 10, 30],
    ['an oldest event exactly at the age bound', { INGEST_MAX_AGE_SECONDS: '60' }, { oldestAgeMs: 60_000 }, 1, 10, undefined],
  ])('%s', async (_name, env, measured, messages, bytes, retryAfter) => {
    const { bounds: b } = bounds(env);
    const error = await refusal(b.admit(messages, bytes, lag(measured)));
    if (retryAfter === undefined) expect(error).toBeUndefined();
    else expect(error).toMatchObject({ code: 'INGEST_QUEUE_FULL', details: { retryAfterSeconds: retryAfter } });
  });

  it('counts what this instance appended since the last measure, and measures again after 250 ms', async () => {
    const { bounds: b, clock } = bounds({ INGEST_MAX_MESSAGES: '5' });
    const { measure, measures } = counted({ waiting: 0 });
    for (let i = 0; i < 5; i++) {
      await b.admit(1, 10, measure);
      b.appended(1, 10);
    }
    expect(measures()).toBe(1);
    expect((await refusal(b.admit(1, 10, measure)))?.code).toBe('INGEST_QUEUE_FULL');
    // A refusal forgets the measure: the drainers may have caught up.
    await b.admit(1, 10, measure);
    expect(measures()).toBe(2);
    b.appended(1, 10);
    clock.advance(250);
    await b.admit(1, 10, measure);
    expect(measures()).toBe(3);
  });

  it('keeps a measure taken inside a transaction: the appends after it count against it, not a count of the queue each', async () => {
    const { bounds: b, clock } = bounds({ INGEST_MAX_MESSAGES: '5' });
    const { measure, measures } = counted({ waiting: 2 });
    // Asynchronous batches store their events in a transaction with their receipt: inTransaction.
    await b.admit(1, 10, measure, true);
    b.appended(1, 10);
    await b.admit(1, 10, measure, true);
    b.appended(1, 10);
    expect(measures()).toBe(1);
    // 2 measured + 2 appended since: a third event fits, a batch of two does not.
    expect((await refusal(b.admit(2, 10, measure, true)))?.code).toBe('INGEST_QUEUE_FULL');
    await b.admit(1, 10, measure, false);
    expect(measures()).toBe(2);
    // Past the quarter second, measured again (in the transaction, on its connection).
    clock.advance(250);
    await b.admit(1, 10, measure, true);
    expect(measures()).toBe(3);
  });

  it('counts an append in a transaction not yet ended: a measure taken meanwhile cannot see it, two batches do not pass the bound together', async () => {
    const { bounds: b, clock } = bounds({ INGEST_MAX_MESSAGES: '1000' });
    // The queue as other sessions see it: committed rows only.
    let committed = 0;
    let measures = 0;
    const measure = async (): Promise<IngestLag> => (measures++, { waiting: committed, waitingBytes: 0, oldestAgeMs: 0 });
    await b.admit(600, 10, measure, true);
    const ended = b.inTransaction(600, 10);
    // The cached measure has run out; the second batch measures in its own transaction and sees 0 (the first
    // batch has not committed): the 600 still count.
    clock.advance(250);
    expect((await refusal(b.admit(600, 10, measure, true)))?.code).toBe('INGEST_QUEUE_FULL');
    expect(measures).toBe(2);
    // Committed: counted as appended until a measure that sees it (the refusal above dropped the cached one).
    committed = 600;
    ended(true);
    expect((await refusal(b.admit(401, 10, measure, true)))?.code).toBe('INGEST_QUEUE_FULL');
    await b.admit(400, 10, measure, true);
    // Rolled back: gone.
    const rolledBack = b.inTransaction(400, 10);
    rolledBack(false);
    await b.admit(400, 10, measure, true);
  });

  it('a measure subtracts only the appends counted before it started: one counted while it ran may not be in it', async () => {
    const { bounds: b } = bounds({ INGEST_MAX_MESSAGES: '10' });
    let release!: (lag: IngestLag) => void;
    let calls = 0;
    // The first measure answers when released; later ones see the 7 committed rows.
    const measure = () => (++calls === 1 ? new Promise<IngestLag>((resolve) => (release = resolve)) : Promise.resolve({ waiting: 7, waitingBytes: 70, oldestAgeMs: 0 }));
    b.appended(3, 10);
    const first = b.admit(1, 10, measure);
    // Committed after the measure's snapshot: not in it.
    b.appended(4, 10);
    release({ waiting: 3, waitingBytes: 30, oldestAgeMs: 0 });
    await first;
    // 3 measured + 4 counted since = 7: three more fit, four do not.
    expect((await refusal(b.admit(4, 10, measure)))?.code).toBe('INGEST_QUEUE_FULL');
    expect(calls).toBe(1);
    await b.admit(3, 10, measure);
  });
});
