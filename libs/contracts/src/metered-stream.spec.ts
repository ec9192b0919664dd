import { describe, expect, it } from '@jest/globals';
import { addUnits, chunksOf, covers, firstHold, MeteredStream, nextHold, sseEvent, sseOf, streamMeteringFor } from './metered-stream';
import type { DisconnectPolicy, MeteredItem, MeteredStreamPort, StreamMetering, StopReason, Units } from './metered-stream';

type Chunk = { tokens: number } | { usage: Units };

/** A port that records every call; `budget`: the most output tokens it lets be held (a cap). */
function fakePort(budget = Infinity, ttlMs = 600_000) {
  let now = 0;
  const calls: Array<[string, Units?, StopReason?]> = [];
  const port: MeteredStreamPort = {
    hold: async (units) => {
      calls.push(['hold', units]);
      if ((units.outputTokens ?? 0) > budget) throw Object.assign(new Error('402'), { status: 402 });
      return { expiresAt: new Date(now + ttlMs).toISOString() };
    },
    extend: async (units) => {
      calls.push(['extend', units]);
      if ((units.outputTokens ?? 0) > budget) throw Object.assign(new Error('402'), { status: 402 });
      return { expiresAt: new Date(now + ttlMs).toISOString() };
    },
    settle: async (units, stop) => {
      calls.push(['settle', units, stop]);
      return { creditsConsumed: units.outputTokens ?? 0 };
    },
    release: async () => {
      calls.push(['release']);
    },
    isRefusal: (e) => (e as { status?: number }).status === 402,
    now: () => now,
  };
  return { port, calls, advance: (ms: number) => (now += ms) };
}

const metering = (over: Partial<StreamMetering<Chunk>> = {}): StreamMetering<Chunk> => ({
  input: { inputTokens: 5 },
  step: { outputTokens: 32 },
  count: (c) => ('tokens' in c ? { outputTokens: c.tokens } : undefined),
  usage: (c) => ('usage' in c ? c.usage : undefined),
  ...over,
});

async function* chunks(list: Array<Chunk | Error>, onEach?: (i: number) => void): AsyncGenerator<Chunk> {
  for (const [i, c] of list.entries()) {
    onEach?.(i);
    if (c instanceof Error) throw c;
    yield c;
  }
}

async function drain(stream: MeteredStream<Chunk>, source: AsyncIterable<Chunk>, take = Infinity): Promise<MeteredItem<Chunk>[]> {
  const out: MeteredItem<Chunk>[] = [];
  const it = stream.run(source);
  for (;;) {
    if (out.length >= take) {
      await it.return(undefined);
      return out;
    }
    const n = await it.next();
    if (n.done) return out;
    out.push(n.value);
  }
}

const tokens = (n: number, size = 16): Chunk[] => Array.from({ length: n }, () => ({ tokens: size }));

describe('unit arithmetic', () => {
  it.each<[string, Units, Units, Units, Units]>([
    ['covered: nothing to add', { o: 32 }, { o: 20 }, { o: 32 }, { o: 32 }],
    ['one step', { o: 32 }, { o: 40 }, { o: 32 }, { o: 64 }],
    ['several steps at once (a big chunk)', { o: 32 }, { o: 100 }, { o: 32 }, { o: 128 }],
    ['a unit the step does not name is held exactly', { o: 32 }, { o: 10, img: 3 }, { o: 32 }, { o: 32, img: 3 }],
    ['two stepped units: the larger need decides', { a: 10, b: 10 }, { a: 25, b: 11 }, { a: 10, b: 5 }, { a: 30, b: 20 }],
  ])('nextHold: %s', (_name, held, needed, step, expected) => {
    expect(nextHold(held, needed, step)).toEqual(expected);
    expect(covers(nextHold(held, needed, step), needed)).toBe(true);
  });

  it('addUnits and firstHold', () => {
    expect(addUnits({ a: 1 }, { a: 2, b: 3 })).toEqual({ a: 3, b: 3 });
    expect(firstHold({ input: { inputTokens: 7 } })).toEqual({ inputTokens: 7, outputTokens: 256 });
  });

  it('streamMeteringFor reads the input from the request and refuses bad quantities', () => {
    expect(streamMeteringFor({ input: (r: { n: number }) => ({ inputTokens: r.n }), step: { outputTokens: 8 } }, { n: 3 })).toEqual({ input: { inputTokens: 3 }, step: { outputTokens: 8 } });
    expect(() => streamMeteringFor({ input: { inputTokens: -1 } }, {})).toThrow();
    expect(() => streamMeteringFor({ step: { outputTokens: 1.5 } }, {})).toThrow();
  });
});

describe('MeteredStream: the protocol of both interceptors', () => {
  it.each<[string, Chunk[] | Array<Chunk | Error>, number, StopReason, Units | null, string[]]>([
    // name, source, budget (max output held), stop reason, units settled (null: released), port calls
    ['a short stream: one hold, one settle', tokens(2), Infinity, 'complete', { inputTokens: 5, outputTokens: 32 }, ['hold', 'settle']],
    ['a longer stream extends in steps', tokens(5), Infinity, 'complete', { inputTokens: 5, outputTokens: 80 }, ['hold', 'extend', 'extend', 'settle']],
    ['the cap: stops after the last chunk held for', tokens(5), 64, 'credit_limit', { inputTokens: 5, outputTokens: 64 }, ['hold', 'extend', 'extend', 'settle']],
    ['a usage chunk replaces the count, held for first', [...tokens(2), { usage: { inputTokens: 6, outputTokens: 40 } }], Infinity, 'complete', { inputTokens: 6, outputTokens: 40 }, ['hold', 'extend', 'settle']],
    ['a usage chunk past what can be held: charged up to the hold', [...tokens(2), { usage: { inputTokens: 5, outputTokens: 999 } }], 64, 'complete', { inputTokens: 5, outputTokens: 32 }, ['hold', 'extend', 'settle']],
    ['the handler fails mid-stream: charged what was delivered', [...tokens(3), new Error('boom')], Infinity, 'error', { inputTokens: 5, outputTokens: 48 }, ['hold', 'extend', 'settle']],
    ['the handler fails before any chunk: released', [new Error('boom')], Infinity, 'error', null, ['hold', 'release']],
    ['an empty stream completes: charged its input', [], Infinity, 'complete', { inputTokens: 5 }, ['hold', 'settle']],
  ])('%s', async (_name, source, budget, stop, settledUnits, calls) => {
    const { port, calls: seen } = fakePort(budget);
    const stream = new MeteredStream(metering(), port);
    await stream.open();
    const items = await drain(stream, chunks(source));
    const last = items[items.length - 1];
    expect(last).toEqual({ kind: 'usage', usage: { creditsConsumed: settledUnits ? (settledUnits.outputTokens ?? 0) : 0, units: settledUnits ?? {}, stopReason: stop } });
    expect(seen.map((c) => c[0])).toEqual(calls);
    if (settledUnits) expect(seen.find((c) => c[0] === 'settle')).toEqual(['settle', settledUnits, stop]);
    // Never a chunk out that was not held for.
    const out = items.filter((i) => i.kind === 'chunk').reduce((n, i) => n + ((i as { chunk: { tokens?: number } }).chunk.tokens ?? 0), 0);
    expect(out).toBeLessThanOrEqual(Math.min(budget, Infinity));
  });

  it('each extension tells what has gone out before the chunk it holds for (charged if this host dies), nothing before the first chunk', async () => {
    const { port } = fakePort();
    const told: Array<Units | undefined> = [];
    const extend = port.extend;
    port.extend = (units, delivered) => {
      told.push(delivered);
      return extend(units, delivered);
    };
    const stream = new MeteredStream(metering(), port);
    await stream.open();
    await drain(stream, chunks(tokens(5)));
    // Steps of 32, chunks of 16: the 3rd chunk needs 48 (delivered 32), the 5th needs 80 (delivered 64).
    expect(told).toEqual([
      { inputTokens: 5, outputTokens: 32 },
      { inputTokens: 5, outputTokens: 64 },
    ]);

    // A slow upstream: the half-lease extension before any chunk went out tells nothing delivered.
    const slow = fakePort(Infinity, 1_000);
    const early: Array<Units | undefined> = [];
    const slowExtend = slow.port.extend;
    slow.port.extend = (units, delivered) => {
      early.push(delivered);
      return slowExtend(units, delivered);
    };
    const waiting = new MeteredStream(metering(), slow.port);
    await waiting.open();
    await drain(waiting, chunks(tokens(1), () => slow.advance(600)));
    expect(early).toEqual([undefined]);
  });

  it.each<[DisconnectPolicy, string[], Units | null, number]>([
    ['bill-delivered', ['hold', 'settle'], { inputTokens: 5, outputTokens: 32 }, 2],
    ['bill-all', ['hold', 'extend', 'extend', 'extend', 'settle'], { inputTokens: 5, outputTokens: 128 }, 8],
    ['void', ['hold', 'release'], null, 2],
  ])('a client that goes away after 2 chunks, policy %s', async (policy, calls, settledUnits, pulled) => {
    const { port, calls: seen } = fakePort();
    const stream = new MeteredStream(metering({ onDisconnect: policy }), port);
    await stream.open();
    let reads = 0;
    const items = await drain(stream, chunks(tokens(8), () => reads++), 2);
    expect(items).toHaveLength(2);
    expect(seen.map((c) => c[0])).toEqual(calls);
    if (settledUnits) expect(seen.find((c) => c[0] === 'settle')).toEqual(['settle', settledUnits, 'client_disconnect']);
    expect(stream.result?.stopReason).toBe('client_disconnect');
    // bill-all lets the upstream finish; the others cancel it.
    expect(reads).toBe(pulled);
  });

  it.each<[DisconnectPolicy, string[], number]>([
    ['bill-delivered', ['hold', 'settle'], 32],
    ['void', ['hold', 'release'], 0],
    ['bill-all', ['hold', 'extend', 'settle'], 64],
  ])('the response closes while the handler is between chunks (abort), policy %s: settled at once, the chunk in flight counted only by bill-all', async (policy, calls, output) => {
    const { port, calls: seen } = fakePort();
    const stream = new MeteredStream(metering({ onDisconnect: policy }), port);
    await stream.open();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    async function* slow(): AsyncGenerator<Chunk> {
      yield { tokens: 16 };
      yield { tokens: 16 };
      await gate;
      yield { tokens: 16 };
      yield { tokens: 16 };
    }
    const it = stream.run(slow());
    await it.next();
    await it.next();
    const third = it.next();
    stream.abort();
    // bill-all drains the upstream before the generator ends; the others end at once, the upstream still stuck.
    if (policy === 'bill-all') release();
    expect(await third).toEqual({ done: true, value: undefined });
    release();
    expect(seen.map((c) => c[0])).toEqual(calls);
    expect(stream.result).toEqual({ creditsConsumed: output, units: output ? { inputTokens: 5, outputTokens: output } : {}, stopReason: 'client_disconnect' });
  });

  it('a hold half way to its expiry is extended in time, even with no more units to hold', async () => {
    const { port, calls, advance } = fakePort(Infinity, 60_000);
    const stream = new MeteredStream(metering({ step: { outputTokens: 1000 } }), port);
    await stream.open();
    await drain(stream, chunks(tokens(4), () => advance(20_000)));
    // 0 s hold (to 60 s); chunks at 20, 40 (renew: past half, to 100), 60, 80 (renew, to 140).
    expect(calls.map((c) => c[0])).toEqual(['hold', 'extend', 'extend', 'settle']);
    expect(calls[1][1]).toEqual({ inputTokens: 5, outputTokens: 1000 });
  });

  it('a refusal of the first hold throws (nothing to settle); a counter that returns nonsense ends the stream with error', async () => {
    const { port } = fakePort(0);
    await expect(new MeteredStream(metering(), port).open()).rejects.toThrow('402');
    const ok = fakePort();
    const stream = new MeteredStream(metering({ count: () => ({ outputTokens: -3 }) }), ok.port);
    await stream.open();
    const items = await drain(stream, chunks(tokens(2)));
    expect(items).toEqual([{ kind: 'usage', usage: { creditsConsumed: 0, units: {}, stopReason: 'error' } }]);
  });

  it('an extension that fails for another reason than a refusal ends the stream with error', async () => {
    const { port } = fakePort();
    port.extend = async () => {
      throw new Error('network');
    };
    const stream = new MeteredStream(metering(), port);
    await stream.open();
    const items = await drain(stream, chunks(tokens(4)));
    expect(items.at(-1)).toEqual({ kind: 'usage', usage: { creditsConsumed: 32, units: { inputTokens: 5, outputTokens: 32 }, stopReason: 'error' } });
  });
});

describe('chunksOf and sseOf', () => {
  const observable = (values: unknown[], error?: unknown) => ({
    subscribe(o: { next: (v: unknown) => void; error: (e: unknown) => void; complete: () => void }) {
      let closed = false;
      queueMicrotask(() => {
        for (const v of values) if (!closed) o.next(v);
        if (closed) return;
        if (error) o.error(error);
        else o.complete();
      });
      return { unsubscribe: () => (closed = true) };
    },
  });
  const collect = async (it: AsyncIterable<unknown>) => {
    const out: unknown[] = [];
    for await (const v of it) out.push(v);
    return out;
  };

  it('reads an Observable of chunks, and an AsyncIterable the handler returned, through', async () => {
    expect(await collect(chunksOf(observable([{ a: 1 }, 'raw'])))).toEqual([{ a: 1 }, 'raw']);
    expect(await collect(chunksOf(observable([chunks(tokens(2))])))).toEqual(tokens(2));
    await expect(collect(chunksOf(observable([1], new Error('x'))))).rejects.toThrow('x');
  });

  it('writes chunks as data events (text as it is) and the usage as a named event', async () => {
    async function* items(): AsyncGenerator<MeteredItem<unknown>> {
      yield { kind: 'chunk', chunk: { delta: 'a' } };
      yield { kind: 'chunk', chunk: 'data: raw\n\n' };
      yield { kind: 'usage', usage: { creditsConsumed: 1.5, units: { outputTokens: 16 }, stopReason: 'complete' } };
    }
    expect((await collect(sseOf(items()))).join('')).toBe('data: {"delta":"a"}\n\ndata: raw\n\nevent: usage\ndata: {"creditsConsumed":1.5,"units":{"outputTokens":16},"stopReason":"complete"}\n\n');
    expect(sseEvent('two\nlines')).toBe('data: two\ndata: lines\n\n');
  });
});
