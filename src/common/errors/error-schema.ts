import type { SchemaObject } from '@nestjs/swagger';

/** The OpenAPI schema of every error answer: `{statusCode, error, message, details?}` (the one exception filter's shape). */
export const ERROR_SCHEMA: SchemaObject = {
  type: 'object',
  required: ['statusCode', 'error', 'message'],
  properties: { statusCode: { type: 'integer' }, error: { type: 'string' }, message: { type: 'string' }, details: { type: 'object' } },
};
