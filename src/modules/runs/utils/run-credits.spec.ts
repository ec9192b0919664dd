import { describe, expect, it } from '@jest/globals';
import { creditsDecimal, isCreditsDecimal, shownCredits } from './run-credits';

describe('run credits', () => {
  it.each<[unknown, boolean]>([
    [0, true],
    [25, true],
    ['25', true],
    ['0.000001', true],
    [0.000001, true],
    [0.0000001, false], // JavaScript prints 1e-7: an exponent form is refused
    [1e21, false],
    ['10000000000.000001', true], // the format; the bound is checked apart (422)
    ['0.0000001', false],
    [-1, false],
    ['-1', false],
    ['1e3', false],
    [Number.NaN, false],
    [null, false],
    ['', false],
    [' 1', false],
  ])('%p -> %p', (value, ok) => {
    expect(isCreditsDecimal(value)).toBe(ok);
  });

  it('keeps every digit: no float ever holds a budget', () => {
    expect(creditsDecimal('10000000000.000001')).toBe('10000000000.000001');
    expect(creditsDecimal(12.5)).toBe('12.5');
    expect(shownCredits('9999999999999999.999999')).toBe('9999999999999999.999999');
    expect(shownCredits('0.004900')).toBe('0.0049');
    expect(shownCredits(null)).toBeNull();
  });
});
