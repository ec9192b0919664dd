import type { GrantsOverview, GrantState, GrantStatus } from '../../../../libs/contracts/src/usage-page.types';
import type { CreditHundredths } from '../../../common/money/credits';
import { hundredthsToNumber } from '../../../common/money/credits';

/** A grant expiring within this many days is "expiring soon" on the usage page. */
export const EXPIRING_SOON_DAYS = 7;
const DAY_MS = 86_400_000;

export interface GrantInput {
  id: string;
  amount: CreditHundredths;
  remaining: CreditHundredths;
  expiresAt: Date | null;
  reason: string | null;
  createdAt: Date;
}

export type { GrantsOverview, GrantState, GrantStatus };

/**
 * The top-up history as a customer reads it: each grant's amount, used and remaining, and its state at `now`.
 * A grant is expired at its `expiresAt` instant (the ledger stops drawing on it then); what remains of an
 * expired grant is not counted as usable.
 */
export function grantsOverview(grants: GrantInput[], now: Date): GrantsOverview {
  const soon = now.getTime() + EXPIRING_SOON_DAYS * DAY_MS;
  let remaining = 0;
  let expiring = 0;
  let firstExpiry: number | null = null;
  const items = grants.map((g): GrantStatus => {
    const expires = g.expiresAt?.getTime() ?? null;
    let state: GrantState;
    if (expires !== null && expires <= now.getTime()) state = 'expired';
    else if (g.remaining <= 0) state = 'used-up';
    else if (expires !== null && expires <= soon) state = 'expiring-soon';
    else state = 'active';
    if (state === 'active' || state === 'expiring-soon') remaining += g.remaining;
    if (state === 'expiring-soon') {
      expiring += g.remaining;
      if (firstExpiry === null || expires! < firstExpiry) firstExpiry = expires;
    }
    return {
      id: g.id,
      amount: hundredthsToNumber(g.amount),
      used: hundredthsToNumber(g.amount - g.remaining),
      remaining: hundredthsToNumber(g.remaining),
      expiresAt: g.expiresAt ? g.expiresAt.toISOString() : null,
      reason: g.reason,
      createdAt: g.createdAt.toISOString(),
      state,
    };
  });
  return {
    asOf: now.toISOString(),
    expiringSoonDays: EXPIRING_SOON_DAYS,
    remaining: hundredthsToNumber(remaining),
    expiringSoon: { credits: hundredthsToNumber(expiring), firstExpiry: firstExpiry === null ? null : new Date(firstExpiry).toISOString() },
    items,
  };
}
