import { describe, expect, it } from '@jest/globals';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { IsAmount, IsDay, IsOptionalNotNull } from './validators';

class Probe {
  @IsOptionalNotNull()
  @IsAmount()
  amount?: number | null;

  @IsOptionalNotNull()
  @IsDay()
  day?: string;
}

const errors = (plain: object) => validateSync(plainToInstance(Probe, plain)).map((e) => e.property);

describe('validators', () => {
  it.each([
    [{}, []],
    [{ amount: 12.34 }, []],
    [{ amount: null }, ['amount']],
    [{ amount: 1e-7 }, ['amount']],
    [{ amount: 1e21 }, ['amount']],
    [{ amount: 1.005 }, ['amount']],
    [{ amount: '5' }, ['amount']],
    [{ day: '2028-02-29' }, []],
    [{ day: '2026-02-29' }, ['day']],
    [{ day: '9999-12-31' }, ['day']],
    [{ day: '1999-12-31' }, ['day']],
    [{ day: '2026-1-1' }, ['day']],
  ])('%j -> %j', (plain, expected) => {
    expect(errors(plain)).toEqual(expected);
  });
});
