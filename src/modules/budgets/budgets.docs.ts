import { applyDecorators, HttpCode } from '@nestjs/common';
import { ApiBadRequestResponse, ApiConflictResponse, ApiCreatedResponse, ApiForbiddenResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiUnauthorizedResponse } from '@nestjs/swagger';

// The OpenAPI declarations of the budget routes (their response schemas come from the handlers' return
// types: src/openapi/response-types.ts), shared by the admin and the organization controllers so
// the two stay the same route for route.

const unauthorized = ApiUnauthorizedResponse({ description: 'UNAUTHORIZED: missing, unknown or revoked key' });
const orgNotFound = 'ORGANIZATION_NOT_FOUND (another organization too, for an organization key)';
// Writes only: a key never creates, changes or deletes a budget that limits itself or its member.
const ownBudget = ApiForbiddenResponse({
  description: 'FORBIDDEN: the key lacks the manage scope; BUDGET_APPLIES_TO_CALLER: an organization key and a budget on itself or on the member it belongs to (nothing written; an admin or another key may)',
});

export const BudgetDocs = {
  create: () =>
    applyDecorators(
      ApiOperation({ summary: 'Create a budget {scope: apiKey|user, subject, credits, period: month|day}: a spend limit per key or member' }),
      ApiCreatedResponse({ description: 'The budget, with used and remaining in its current window' }),
      ApiBadRequestResponse({ description: 'VALIDATION_FAILED: a message per field' }),
      ApiNotFoundResponse({ description: `${orgNotFound}, or API_KEY_NOT_FOUND (scope apiKey: no such key in the organization)` }),
      ApiConflictResponse({ description: 'ALREADY_EXISTS: the organization has a budget of that scope, subject and period' }),
      ownBudget,
      unauthorized,
    ),
  list: () =>
    applyDecorators(
      ApiOperation({ summary: "List the organization's budgets, each with used and remaining in its current window" }),
      ApiOkResponse({ description: 'The budgets' }),
      ApiNotFoundResponse({ description: orgNotFound }),
      unauthorized,
    ),
  get: () =>
    applyDecorators(
      ApiOperation({ summary: 'One budget, with used and remaining in its current window' }),
      ApiOkResponse({ description: 'The budget' }),
      ApiNotFoundResponse({ description: `${orgNotFound}, or BUDGET_NOT_FOUND` }),
      unauthorized,
    ),
  update: () =>
    applyDecorators(
      ApiOperation({ summary: "Change a budget's limit {credits}; what was used in the window stays" }),
      ApiOkResponse({ description: 'The budget' }),
      ApiBadRequestResponse({ description: 'VALIDATION_FAILED' }),
      ApiNotFoundResponse({ description: `${orgNotFound}, or BUDGET_NOT_FOUND` }),
      ownBudget,
      unauthorized,
    ),
  remove: () =>
    applyDecorators(
      HttpCode(200),
      ApiOperation({ summary: 'Delete a budget (the key or member is limited by the organization only); answers the budget as it was' }),
      ApiOkResponse({ description: 'The budget' }),
      ApiNotFoundResponse({ description: `${orgNotFound}, or BUDGET_NOT_FOUND` }),
      ownBudget,
      unauthorized,
    ),
};
