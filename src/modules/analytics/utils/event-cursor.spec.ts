import { describe, expect, it } from '@jest/globals';
import { DomainError } from '../../../common/errors/domain-error';
import { decodeEventCursor, encodeEventCursor } from './event-cursor';

describe('event cursor', () => {
  it('round-trips with microseconds', () => {
    const cursor = { occurredAt: '2028-02-29T23:59:59.999999Z', id: '0b6f1d7e-5a59-4c4f-8f5e-2b1b6f1a2c3d' };
    const encoded = encodeEventCursor(cursor);
    expect(encoded).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeEventCursor(encoded)).toEqual(cursor);
  });

  it.each(['', 'nonsense', Buffer.from("2028-02-29T00:00:00.000000Z|x' OR 1=1").toString('base64url'), Buffer.from('a|b|c').toString('base64url')])(
    'refuses %p with VALIDATION_FAILED',
    (value) => {
      expect(() => decodeEventCursor(value)).toThrow(DomainError);
    },
  );
});
