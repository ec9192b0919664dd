import { afterAll, afterEach } from '@jest/globals';
import { takeContractViolations } from './utils/contract';

// Every e2e test fails when a response it received does not match the served OpenAPI document (and the
// suite, for responses its afterAll hooks received).
afterEach(failOnViolations);
afterAll(failOnViolations);

function failOnViolations(): void {
  const violations = takeContractViolations();
  if (violations.length === 0) return;
  const lines = violations.slice(0, 10).map((v) => `  ${v.method} ${v.url} -> ${v.status}: ${v.problem}`);
  throw new Error(`${violations.length} response(s) do not match the OpenAPI document:\n${lines.join('\n')}`);
}
