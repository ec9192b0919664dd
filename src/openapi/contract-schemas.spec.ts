import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
// @ts-expect-error -- a plain ES module script without declarations
import { renderContracts, SCHEMAS_FILE, TYPES_FILE } from '../../scripts/generate-contract-schemas.mjs';

describe('generated contract schemas', () => {
  // The document's response schemas and the dashboard's types are generated from the handlers' return
  // types; a handler that now returns something else must regenerate them (npm run contracts).
  it('match what the handlers return (run npm run contracts when this fails)', () => {
    const { schemas, types } = renderContracts() as { schemas: string; types: string };
    expect(readFileSync(SCHEMAS_FILE, 'utf8')).toBe(schemas);
    expect(readFileSync(TYPES_FILE, 'utf8')).toBe(types);
  }, 60_000);
});
