import { describe, expect, it } from '@jest/globals';
import type { GrantInput, GrantState } from './grant-status';
import { grantsOverview } from './grant-status';

const NOW = new Date('2026-11-15T12:00:00.000Z');
const grant = (id: string, amount: number, remaining: number, expiresAt: string | null): GrantInput => ({
  id,
  amount: Math.round(amount * 100),
  remaining: Math.round(remaining * 100),
  expiresAt: expiresAt ? new Date(expiresAt) : null,
  reason: null,
  createdAt: new Date('2026-11-01T00:00:00.000Z'),
});

describe('grantsOverview', () => {
  it.each<[string, GrantInput, GrantState, number]>([
    ['no expiry, partly used', grant('a', 100, 40.5, null), 'active', 59.5],
    ['expires in 8 days', grant('b', 100, 100, '2026-11-23T12:00:00.001Z'), 'active', 0],
    ['expires in exactly 7 days: soon', grant('c', 100, 100, '2026-11-22T12:00:00.000Z'), 'expiring-soon', 0],
    ['expires in a minute', grant('d', 50, 10, '2026-11-15T12:01:00.000Z'), 'expiring-soon', 40],
    ['expired at this instant', grant('e', 50, 10, '2026-11-15T12:00:00.000Z'), 'expired', 40],
    ['used up, not expired', grant('f', 25, 0, '2026-11-16T00:00:00.000Z'), 'used-up', 25],
  ])('%s', (_case, g, state, used) => {
    const [item] = grantsOverview([g], NOW).items;
    expect(item.state).toBe(state);
    expect(item.used).toBe(used);
  });

  it('totals what is usable and what expires soon (expired grants count for neither)', () => {
    const o = grantsOverview(
      [grant('a', 100, 40.5, null), grant('c', 100, 100, '2026-11-22T12:00:00.000Z'), grant('d', 50, 10, '2026-11-15T12:01:00.000Z'), grant('e', 50, 10, '2026-11-15T12:00:00.000Z')],
      NOW,
    );
    expect(o).toMatchObject({ asOf: NOW.toISOString(), expiringSoonDays: 7, remaining: 150.5, expiringSoon: { credits: 110, firstExpiry: '2026-11-15T12:01:00.000Z' } });
    expect(grantsOverview([], NOW)).toMatchObject({ remaining: 0, expiringSoon: { credits: 0, firstExpiry: null }, items: [] });
  });
});
