import { describe, expect, it } from '@jest/globals';
import { creditsRemaining, remainingBeforeDebit } from './credits-remaining';

describe('creditsRemaining', () => {
  it.each([
    // allowance, used, open top-ups (ledger decimals) -> remaining (hundredths, rounded once)
    ['100', '0', '0', 10_000],
    ['100', '25.50', '0', 7_450],
    ['100', '25.50', '10.01', 8_451],
    ['100', '100', '5', 500],
    // Used beyond the allowance (a downgrade below use): the allowance gives 0, never a negative that eats top-ups.
    ['50', '70', '3', 300],
    ['0', '0', '0', 0],
    // Micro-credits combine before the one rounding: 100 - 0.004900 - 0.004900 + 0 is 99.9902 -> 99.99.
    ['100', '0.009800', '0', 9_999],
    ['100', '0.004', '0.003', 10_000],
  ])('allowance %s used %s top-ups %s -> %i', (allowance, used, topUps, expected) => {
    expect(creditsRemaining(allowance, used, topUps)).toBe(expected);
  });
});

describe('remainingBeforeDebit', () => {
  it('adds back what an accepted debit took from the allowance and the top-ups, not its overage', () => {
    expect(remainingBeforeDebit({ status: 'OK', remaining: '10.5', from_allowance: '2.25', from_grants: '1', overage: '7' } as never)).toBe(1_375);
  });

  it('takes a refusal as it is: nothing was taken', () => {
    expect(remainingBeforeDebit({ status: 'CREDITS_EXHAUSTED', remaining: '0.75', from_allowance: '0', from_grants: '0' })).toBe(75);
  });
});
