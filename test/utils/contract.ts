import type { ContractViolation } from '../../src/openapi/contract-validator';

/**
 * Responses that the served OpenAPI document does not describe, collected by every app the tests start
 * (test-app passes `collectContractViolation` to createApp); test/contract-setup.ts fails the test that
 * received one. TEST_CONTRACT=off turns the check off (never in CI).
 */
const violations: ContractViolation[] = [];

export function collectContractViolation(violation: ContractViolation): void {
  violations.push(violation);
}

/** Takes the violations seen since the last call. */
export function takeContractViolations(): ContractViolation[] {
  return violations.splice(0, violations.length);
}

export const contractCheckEnabled = process.env.TEST_CONTRACT !== 'off';
