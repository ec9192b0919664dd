import type { INestApplication } from '@nestjs/common';
import { HTTP_CODE_METADATA } from '@nestjs/common/constants.js';
import { ModulesContainer } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { RATE_LIMIT_EXEMPT_ROUTES } from '../common/auth/http-security';
import { ERROR_DESCRIPTIONS } from './api-errors.decorator';
import { METERED_EXTENSION, PUBLIC_EXTENSION } from './openapi-extensions';
import { API_SCHEMAS as schemas } from '../../libs/contracts/src/api-schemas.generated';


type Json = Record<string, unknown>;
type Operation = {
  operationId: string;
  summary?: string;
  parameters?: Array<Json & { in: string; name: string; schema?: Json }>;
  requestBody?: Json & { required?: boolean; content?: Record<string, { schema?: Json }> };
  responses: Record<string, Json & { content?: Record<string, { schema?: Json }> }>;
  security?: unknown[];
  [extension: string]: unknown;
};

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;
const ERROR_SCHEMA = { $ref: '#/components/schemas/ErrorBody' };
const METERED_USAGE = {
  type: 'object',
  required: ['usage'],
  properties: { usage: { $ref: '#/components/schemas/UsageEnvelope', description: 'What the call cost; also in the X-Credits-Consumed and X-Credits-Remaining headers' } },
};
const OPERATION_RESPONSES = (schemas as Record<string, Json>).OperationResponses.properties as Record<string, Json>;
/** operationId -> its success schemas: the default status's (no `status`), and any `<operationId>:<status>` one. */
const RESPONSES_BY_OPERATION = new Map<string, Array<{ status?: string; schema: Json }>>();
for (const [key, schema] of Object.entries(OPERATION_RESPONSES)) {
  if (key.startsWith('@')) continue; // not an operation (the @TrackUsage envelope)
  const [id, status] = key.split(':');
  RESPONSES_BY_OPERATION.set(id, [...(RESPONSES_BY_OPERATION.get(id) ?? []), { status, schema }]);
}

/** An example for each path parameter name, so tools that need one (Dredd, Prism) get one. */
const PARAMETER_EXAMPLES: Record<string, string> = {
  orgId: 'acme-corp',
  eventType: 'structuring_diagnose',
  name: 'pro',
  id: '3f0c1d52-6a0e-4a83-9d3c-2f1b1b8d9a10',
  userId: 'user-42',
  period: '2026-11',
  receiptId: '6b1f2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
};


/**
 * The served OpenAPI 3.1 document: Nest's scan of the controllers, then made true and complete in one
 * place: response schemas generated from the handlers' return types (src/openapi/response-types.ts), the
 * shared error body on every error status an operation can answer, examples for path parameters,
 * `servers`, and no security on public routes. Contract tests validate every e2e response against it.
 */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Credit metering API')
      .setDescription(
        'Usage metering and credit billing for AI platforms. Every error answers `{statusCode, error, message, details}` (ErrorBody); ' +
          'credits are decimal numbers with two decimals. Authenticate with `Authorization: Bearer <key>`: the admin key, or an organization API key.',
      )
      .setVersion('0.1.0')
      .setLicense('UNLICENSED', 'https://choosealicense.com/no-permission/')
      .addServer('/', 'This service (paths are relative to where the document is served)')
      .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'The admin API key, or an organization API key' })
      .addSecurityRequirements('bearer')
      .build(),
  ) as OpenAPIObject & { openapi: string };
  document.openapi = '3.1.0';
  const components = (document.components ??= {});
  const own = (components.schemas ??= {}) as Record<string, Json>;
  for (const schema of Object.values(own)) toJsonSchema2020(schema);
  for (const [name, schema] of Object.entries(schemas as Record<string, Json>)) {
    if (name === 'OperationResponses') continue;
    if (own[name]) throw new Error(`OpenAPI: schema ${name} is both a DTO and a response type`);
    own[name] = schema;
  }
  const codes = httpCodes(app);
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of METHODS) {
      const operation = (item as Record<string, Operation | undefined>)[method];
      if (operation) completeOperation(path, method, operation, own, codes.get(operation.operationId));
    }
  }
  return document;
}

function completeOperation(path: string, method: string, operation: Operation, components: Record<string, Json>, httpCode: number | undefined): void {
  const isPublic = operation[PUBLIC_EXTENSION] === true;
  delete operation[PUBLIC_EXTENSION];
  if (isPublic) operation.security = [];
  for (const parameter of operation.parameters ?? []) {
    if (parameter.in === 'path' && PARAMETER_EXAMPLES[parameter.name] && parameter.example === undefined) parameter.example = PARAMETER_EXAMPLES[parameter.name];
  }
  successResponses(method, operation, httpCode);
  // A body that every field of is optional is not a required body (POST /api/admin/jobs/{name}/run).
  if (operation.requestBody && optionalBody(operation.requestBody, components)) operation.requestBody.required = false;

  // Any method but GET may carry a body, and Fastify parses one before the route runs: a DELETE with bad
  // JSON is a 400, with another content type a 415, an oversized one a 413.
  const mayCarryBody = method !== 'get';
  const hasInput = mayCarryBody || (operation.parameters ?? []).some((p) => p.in === 'query' || p.in === 'path');
  // Health and metrics are exempt from the rate limit and from load shedding (scrapers must get through).
  const exempt = RATE_LIMIT_EXEMPT_ROUTES.has(path);
  const errors = new Set<string>(exempt ? ['500'] : ['429', '500', '503']);
  if (hasInput) errors.add('400');
  if (!isPublic) errors.add('401').add('403');
  // Authenticated routes look things up (the key's organization, the path's ids, the body's names).
  if (!isPublic || path.includes('{')) errors.add('404');
  if (mayCarryBody) errors.add('413').add('415');
  for (const status of errors) operation.responses[status] ??= { description: '' };
  // Every error status (the ones above and any a decorator declared: 402, 409, 422 ...) answers the shared
  // error body; a route that answers some errors in another type too (the dashboard's text) keeps that.
  for (const [status, response] of Object.entries(operation.responses)) {
    if (Number(status) < 400) continue;
    response.description = (response.description as string | undefined) || ERROR_DESCRIPTIONS[status] || 'Error';
    response.content = { ...(response.content ?? {}), 'application/json': { schema: ERROR_SCHEMA } };
  }
}

/** The success statuses' schemas, from what the handler returns. */
function successResponses(method: string, operation: Operation, httpCode: number | undefined): void {
  // Nest drops its default success response once a decorator declares another status, so the status
  // comes from @HttpCode when there is one; otherwise a POST answers 201 and everything else 200.
  const defaultStatus = httpCode ? String(httpCode) : (Object.keys(operation.responses).find((s) => s.startsWith('2')) ?? (method === 'post' ? '201' : '200'));
  const metered = operation[METERED_EXTENSION];
  delete operation[METERED_EXTENSION];
  for (const { status: extraStatus, schema: returned } of RESPONSES_BY_OPERATION.get(operation.operationId) ?? []) {
    // A @TrackUsage route answers the handler's result with `usage` added (the interceptor's envelope).
    const schema = typeof metered === 'string' && !extraStatus ? { allOf: [returned, METERED_USAGE] } : returned;
    const status = extraStatus ?? defaultStatus;
    const existing = operation.responses[status] ?? { description: 'OK' };
    const content: Record<string, { schema?: Json }> = { ...(existing.content ?? {}), 'application/json': { ...(existing.content?.['application/json'] ?? {}), schema } };
    if (content['text/csv']) content['text/csv'] = { schema: { type: 'string', description: 'CSV, a header row first' } };
    operation.responses[status] = { ...existing, description: (existing.description as string) || 'OK', content };
  }
}

function optionalBody(body: NonNullable<Operation['requestBody']>, components: Record<string, Json>): boolean {
  const schema = body.content?.['application/json']?.schema;
  const ref = typeof schema?.$ref === 'string' ? schema.$ref : undefined;
  if (!ref) return false;
  const target = components[ref.split('/').pop()!];
  return !!target && target.type === 'object' && (!Array.isArray(target.required) || target.required.length === 0);
}

/** `<Controller>_<method>` (Nest's operationId) -> the status its @HttpCode sets. */
function httpCodes(app: INestApplication): Map<string, number> {
  const codes = new Map<string, number>();
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const type = wrapper.metatype as (new (...args: never[]) => unknown) | undefined;
      if (!type?.prototype) continue;
      for (const name of Object.getOwnPropertyNames(type.prototype)) {
        const handler = (type.prototype as Record<string, unknown>)[name];
        const code = typeof handler === 'function' ? (Reflect.getMetadata(HTTP_CODE_METADATA, handler) as number | undefined) : undefined;
        if (code) codes.set(`${type.name}_${name}`, code);
      }
    }
  }
  return codes;
}

/** Nest writes OpenAPI 3.0 `nullable`; 3.1 says it with a type list. */
function toJsonSchema2020(node: unknown): void {
  if (Array.isArray(node)) return node.forEach(toJsonSchema2020);
  if (!node || typeof node !== 'object') return;
  const schema = node as Json;
  if (schema.nullable === true) {
    delete schema.nullable;
    if (typeof schema.type === 'string') schema.type = [schema.type, 'null'];
  }
  for (const value of Object.values(schema)) toJsonSchema2020(value);
}

/** Serves the document at /api/docs (UI) and /api/docs-json. */
export function serveOpenApiDocument(app: INestApplication, document: OpenAPIObject): void {
  SwaggerModule.setup('api/docs', app, document, { jsonDocumentUrl: 'api/docs-json' });
}
