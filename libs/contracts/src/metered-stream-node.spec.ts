import { describe, expect, it } from '@jest/globals';
import { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { chunksOf, MeteredStream, sseOf } from './metered-stream';
import type { DisconnectPolicy, MeteredStreamPort, StreamUsage } from './metered-stream';

/** The protocol as the interceptors run it: the handler's Node Readable through chunksOf, the answer a byte Readable that the platform destroys when the client goes away. */
describe('MeteredStream over Node streams', () => {
  it.each<[DisconnectPolicy, string]>([
    ['void', 'release'],
    ['bill-delivered', 'settle'],
    ['bill-all', 'settle'],
  ])('a handler Readable, the answer destroyed after 3 chunks, policy %s', async (policy, call) => {
    let produced = 0;
    async function* model() {
      for (let i = 0; i < 40; i++) {
        if (i) await delay(2);
        produced++;
        yield { outputTokens: 16 };
      }
    }
    const calls: string[] = [];
    const told: StreamUsage[] = [];
    const lease = async () => ({ expiresAt: new Date(Date.now() + 600_000).toISOString() });
    const port: MeteredStreamPort = {
      hold: lease,
      extend: lease,
      settle: async (u) => {
        calls.push('settle');
        return { creditsConsumed: u.outputTokens ?? 0 };
      },
      release: async () => {
        calls.push('release');
      },
      isRefusal: () => false,
      now: () => Date.now(),
    };
    const stream = new MeteredStream({ step: { outputTokens: 64 }, count: (c: { outputTokens: number }) => ({ outputTokens: c.outputTokens }), onDisconnect: policy, onUsage: (u) => told.push(u) }, port);
    await stream.open();
    const source = { subscribe: (o: { next: (v: unknown) => void; complete: () => void }) => (o.next(Readable.from(model())), o.complete(), { unsubscribe: () => undefined }) };
    const body = Readable.from(sseOf(stream.run(chunksOf(source as never))), { objectMode: false, highWaterMark: 1 });
    let n = 0;
    body.on('data', () => {
      if (++n === 3) body.destroy();
    });
    for (let i = 0; i < 300 && told.length === 0; i++) await delay(5);
    expect(calls).toEqual([call]);
    expect(told[0].stopReason).toBe('client_disconnect');
    if (policy === 'bill-all') expect(produced).toBe(40);
    else expect(produced).toBeLessThan(10);
  });
});
