import { describe, expect, it } from '@jest/globals';
import { loadConfig, NatsConfig } from '../../config/app-config';
import { decodeMessage, deliveryIdOf, jetStreamOptionsFrom, organizationToken } from './jetstream-ingest-queue';

describe('organizationToken', () => {
  it('keeps identifiers subjects can hold, encodes the others so none reaches another subject or a wildcard', () => {
    for (const id of ['acme', 'org_01', '0b5c2a4e-8c1f-4d7a-9a55-3c2f1f0e9b11']) expect(organizationToken(id)).toBe(id);
    const odd = ['a.b', 'a*', '>', 'a b', 'é', 'acme.>', ''];
    const tokens = odd.map(organizationToken);
    for (const token of tokens) expect(token).toMatch(/^=[A-Za-z0-9_-]*$/);
    expect(new Set(tokens).size).toBe(odd.length);
    // No plain identifier starts with "=", so an encoded one never equals a plain one.
    expect(organizationToken('a.b')).not.toBe(organizationToken('a_b'));
  });
});

describe('jetStreamOptionsFrom', () => {
  it('takes the NATS settings and the bounds shared with the PostgreSQL queue', () => {
    const config = loadConfig({
      NATS_URL: 'nats://a:4222,nats://b:4222',
      NATS_REPLICAS: '3',
      INGEST_MAX_MESSAGES: '5000',
      INGEST_MAX_BYTES: String(8 * 1024 ** 2),
      INGEST_MAX_AGE_SECONDS: '90',
      INGEST_LEASE_SECONDS: '45',
    });
    expect(jetStreamOptionsFrom(config as typeof config & { nats: NatsConfig })).toEqual({
      servers: ['nats://a:4222', 'nats://b:4222'],
      stream: 'METERING_INGEST',
      subjectPrefix: 'metering.ingest',
      consumer: 'metering-drainers',
      replicas: 3,
      duplicateWindowSeconds: 120,
      maxAckPending: 20_000,
      maxMessages: 5000,
      maxBytes: 8 * 1024 ** 2,
      maxAgeSeconds: 90,
      leaseSeconds: 45,
    });
  });
});

describe('decodeMessage', () => {
  it('reads what append wrote and nothing else', () => {
    const m = { id: 'acme:k1', input: { organizationId: 'acme', eventType: 'ai_call', idempotencyKey: 'k1' }, enqueuedAt: '2026-11-15T12:00:00.000Z' };
    expect(decodeMessage(JSON.stringify(m))).toEqual(m);
    for (const bad of ['not json', 'null', '42', '{}', JSON.stringify({ ...m, id: 1 }), JSON.stringify({ ...m, input: null }), JSON.stringify({ ...m, input: { eventType: 'x' } })]) {
      expect(decodeMessage(bad)).toBeUndefined();
    }
  });
});

describe('deliveryIdOf', () => {
  it('is the stream, the stream sequence and the store time: the same on a redelivery, another for another message', () => {
    const first = '$JS.ACK.INGEST.drainers.1.42.7.1796000000000000000.3';
    const again = '$JS.ACK.INGEST.drainers.2.42.9.1796000000000000000.0';
    expect(deliveryIdOf(first)).toBe('INGEST:42:1796000000000000000');
    expect(deliveryIdOf(again)).toBe(deliveryIdOf(first));
    // The stream deleted and created again: sequence 42 comes back, stored at another time.
    expect(deliveryIdOf('$JS.ACK.INGEST.drainers.1.42.1.1796000009000000000.0')).not.toBe(deliveryIdOf(first));
    // The form with a domain and an account hash.
    expect(deliveryIdOf('$JS.ACK.hub.ACCHASH.INGEST.drainers.1.42.7.1796000000000000000.3.rnd')).toBe('INGEST:42:1796000000000000000');
  });

  it('refuses a subject that is not a JetStream acknowledgement', () => {
    for (const reply of ['_INBOX.abc', '$JS.ACK.too.short', '$JS.API.X.a.b.c.d.e.f']) expect(() => deliveryIdOf(reply)).toThrow(/not a JetStream/);
  });
});
