import { describe, expect, it } from '@jest/globals';
import { creditsRemaining, remainingBeforeDebit } from './credits-remaining';

describe('creditsRemaining', () => {
  it.each([
    // allowance, used, open top-ups (hundredths) -> remaining
    [10_000, 0, 0, 10_000],
    [10_000, 2_550, 0, 7_450],
    [10_000, 2_550, 1_001, 8_451],
    [10_000, 10_000, 500, 500],
    // Used beyond the allowance (a downgrade below use): the allowance gives 0, never a negative that eats top-ups.
    [5_000, 7_000, 300, 300],
    [0, 0, 0, 0],
  ])('allowance %i used %i top-ups %i -> %i', (allowance, used, topUps, expected) => {
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
