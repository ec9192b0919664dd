import type { OpenAPIObject } from '@nestjs/swagger';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { FastifyInstance } from 'fastify';

/** A response the served document does not describe. */
export interface ContractViolation {
  method: string;
  url: string;
  /** The document's path template, when the route is in it. */
  path?: string;
  status: number;
  problem: string;
}

type Json = Record<string, unknown>;
type ResponseObject = { content?: Record<string, { schema?: Json }> };
type Operation = { responses?: Record<string, ResponseObject> };

// Routes the document deliberately leaves out: the document itself and its UI.
const UNDOCUMENTED = /^\/api\/docs(\/|-json|-yaml|$)/;

/**
 * Checks each response against the OpenAPI document: the route is documented, its status is one the
 * operation declares, the content type is one it lists, and a JSON body validates against the schema.
 * For tests (every e2e response goes through it) and for a staging run that logs mismatches; it never
 * changes a response.
 */
export class ContractValidator {
  private readonly ajv: Ajv2020;
  private readonly compiled = new Map<string, ValidateFunction>();
  private readonly operations = new Map<string, { path: string; operation: Operation }>();

  constructor(private readonly document: OpenAPIObject) {
    this.ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
    const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv2020) => void;
    addFormats(this.ajv);
    this.ajv.addSchema({ $id: 'openapi', components: document.components ?? {} });
    for (const [path, item] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(item as Record<string, Operation>)) {
        this.operations.set(`${method.toUpperCase()} ${path}`, { path, operation });
      }
    }
  }

  /** `route` is Fastify's route template (`/api/organizations/:orgId`), undefined for an unmatched URL. */
  check(method: string, url: string, route: string | undefined, status: number, contentType: string | undefined, body: string | undefined): ContractViolation | undefined {
    if (method === 'HEAD' || method === 'OPTIONS') return undefined;
    const base = { method, url, status };
    const mediaType = contentType?.split(';')[0].trim().toLowerCase();
    if (route === undefined) {
      // Fastify's own 404 for an unknown URL: still the shared error body.
      return this.validateBody(base, mediaType, body, { content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorBody' } } } }, 'unmatched');
    }
    const path = toOpenApiPath(route);
    if (UNDOCUMENTED.test(path)) return undefined;
    const found = this.operations.get(`${method} ${path}`) ?? this.wildcard(method, path);
    if (!found) return { ...base, problem: `${method} ${path} is not in the document` };
    const response = found.operation.responses?.[String(status)] ?? found.operation.responses?.[`${String(status)[0]}XX`] ?? found.operation.responses?.default;
    if (!response) return { ...base, path: found.path, problem: `status ${status} is not documented (documented: ${Object.keys(found.operation.responses ?? {}).join(', ')})` };
    return this.validateBody({ ...base, path: found.path }, mediaType, body, response, `${method} ${found.path} ${status}`);
  }

  /** Whether a value matches a schema of the document (refs into its components resolve). */
  matches(schema: Json, value: unknown): boolean {
    return this.ajv.compile(rebase(schema) as Json)(value) as boolean;
  }

  private validateBody(base: Omit<ContractViolation, 'problem'>, mediaType: string | undefined, body: string | undefined, response: ResponseObject, key: string): ContractViolation | undefined {
    const content = response.content;
    if (!content || Object.keys(content).length === 0) {
      return body && body.length > 0 && base.status !== 304 ? { ...base, problem: 'a body where the document declares none' } : undefined;
    }
    if (!mediaType) return body && body.length > 0 ? { ...base, problem: 'a body without a content type' } : undefined;
    const media = content[mediaType] ?? content[`${mediaType.split('/')[0]}/*`] ?? content['*/*'];
    if (!media) return { ...base, problem: `content type ${mediaType} is not documented (documented: ${Object.keys(content).join(', ')})` };
    if (mediaType !== 'application/json' || body === undefined || !media.schema) return undefined;
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch {
      return { ...base, problem: 'the body is not JSON' };
    }
    const validate = this.validator(`${key} ${mediaType}`, media.schema);
    if (validate(value)) return undefined;
    const errors = (validate.errors ?? []).slice(0, 5).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`);
    return { ...base, problem: `the body does not match the schema: ${errors.join('; ')}` };
  }

  private validator(key: string, schema: Json): ValidateFunction {
    let validate = this.compiled.get(key);
    if (!validate) {
      validate = this.ajv.compile(rebase(schema) as Json);
      this.compiled.set(key, validate);
    }
    return validate;
  }

  /** `/dashboard/{path}`-style catch-alls: Fastify reports `/dashboard/*`. */
  private wildcard(method: string, path: string) {
    if (!path.endsWith('/*')) return undefined;
    const prefix = path.slice(0, -1);
    for (const [key, value] of this.operations) {
      if (key.startsWith(`${method} ${prefix}{`)) return value;
    }
    return undefined;
  }
}

/** `/a/:b/c` -> `/a/{b}/c` */
function toOpenApiPath(route: string): string {
  return route.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/** Refs into the document's components resolve through the schema registered as `openapi`. */
function rebase(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(rebase);
  if (!node || typeof node !== 'object') return node;
  const out: Json = {};
  for (const [key, value] of Object.entries(node as Json)) {
    out[key] = key === '$ref' && typeof value === 'string' && value.startsWith('#/components/') ? `openapi${value}` : rebase(value);
  }
  return out;
}

/**
 * Validates every response the app sends (onSend sees the serialized body) and reports each mismatch.
 * Streamed bodies (CSV exports, files) are checked for status and content type only.
 */
export function checkResponsesAgainst(fastify: FastifyInstance, document: OpenAPIObject, report: (violation: ContractViolation) => void): void {
  const validator = new ContractValidator(document);
  fastify.addHook('onSend', async (request, reply, payload) => {
    const body = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : undefined;
    const header = reply.getHeader('content-type');
    const violation = validator.check(request.method, request.url, request.routeOptions.url, reply.statusCode, typeof header === 'string' ? header : undefined, body);
    if (violation) report(violation);
    return payload;
  });
}
