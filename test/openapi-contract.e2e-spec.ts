import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ContractValidator } from '../src/openapi/contract-validator';
import { ADMIN, startTestApp, TestApp } from './utils/test-app';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a parsed document, read field by field
type Json = Record<string, any>;
const run = promisify(execFile);

/**
 * The served document itself: Redocly's recommended rules with no error, and the properties that
 * validating proxies and client generators rely on. (Every other e2e suite checks each response it gets
 * against this document: test/contract-setup.ts.)
 */
describe('the OpenAPI document', () => {
  let t: TestApp;
  let doc: Json;
  let dir: string;

  beforeAll(async () => {
    t = await startTestApp();
    doc = (await t.http().get('/api/docs-json').expect(200)).body;
    dir = mkdtempSync(join(tmpdir(), 'openapi-'));
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await t?.close();
  });

  const operations = () =>
    Object.entries(doc.paths as Json).flatMap(([path, item]) =>
      Object.entries(item as Json).map(([method, op]) => ({ path, method, op: op as Json })),
    );

  it("passes Redocly's recommended ruleset with no error", async () => {
    const file = join(dir, 'openapi.json');
    writeFileSync(file, JSON.stringify(doc));
    const cli = join(process.cwd(), 'node_modules/@redocly/cli/bin/cli.js');
    const env = { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', CI: 'true' };
    const result = await run(process.execPath, [cli, 'lint', file, '--extends', 'recommended', '--format', 'json'], { env, maxBuffer: 16 << 20 }).catch((e) => e);
    const report = JSON.parse(String(result.stdout).slice(String(result.stdout).indexOf('{')));
    const errors = (report.problems as Json[]).filter((p) => p.severity === 'error').map((p) => `${p.ruleId}: ${p.message} at ${p.location?.[0]?.pointer}`);
    expect(errors).toEqual([]);
  }, 60_000);

  it('is OpenAPI 3.1 with servers, a summary and a success schema on every operation', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.servers.length).toBeGreaterThan(0);
    for (const { path, method, op } of operations()) {
      expect(`${method} ${path}: ${op.summary ? 'summary' : 'NO SUMMARY'}`).toBe(`${method} ${path}: summary`);
      // A redirect (`GET /` -> /dashboard) succeeds with its 3xx.
      const success = Object.entries(op.responses as Json).filter(([status]) => status.startsWith('2') || (status.startsWith('3') && status !== '304'));
      expect(`${method} ${path}: ${success.length}`).not.toBe(`${method} ${path}: 0`);
      for (const [status, response] of success) {
        const schema = (response as Json).content?.['application/json']?.schema;
        if ((response as Json).content?.['application/json']) expect(`${method} ${path} ${status}: ${schema?.$ref || schema?.type || schema?.allOf ? 'schema' : 'none'}`).toBe(`${method} ${path} ${status}: schema`);
      }
    }
  });

  it('gives every error status the shared error body, whose error field is an enum of the codes', () => {
    expect(doc.components.schemas.ErrorBody.properties.error.$ref).toBe('#/components/schemas/ErrorCode');
    expect(doc.components.schemas.ErrorCode.enum).toEqual(expect.arrayContaining(['CREDITS_EXHAUSTED', 'VALIDATION_FAILED', 'OVERLOADED']));
    for (const { path, method, op } of operations()) {
      for (const [status, response] of Object.entries(op.responses as Json)) {
        if (Number(status) < 400) continue;
        expect(`${method} ${path} ${status}: ${(response as Json).content?.['application/json']?.schema?.$ref}`).toBe(`${method} ${path} ${status}: #/components/schemas/ErrorBody`);
      }
    }
  });

  it('documents the statuses clients meet: 402 on tracking and metered routes, 200 and 201 on the tracking call, 400/401/404 everywhere they apply', () => {
    const track = doc.paths['/api/organizations/{orgId}/usage/events'].post;
    expect(Object.keys(track.responses)).toEqual(expect.arrayContaining(['200', '201', '400', '401', '402', '403', '404', '409', '413', '422', '429']));
    expect(track.responses['201'].content['application/json'].schema.$ref).toBe('#/components/schemas/TrackResult');
    expect(track.responses['200'].content['application/json'].schema.$ref).toBe('#/components/schemas/BatchTrackResult');
    const demo = doc.paths['/api/demo/track-usage'].post;
    expect(Object.keys(demo.responses)).toEqual(expect.arrayContaining(['200', '201', '402', '404']));
    const tool = doc.paths['/api/visuals/planning'].post;
    expect(Object.keys(tool.responses)).toEqual(expect.arrayContaining(['200', '402', '401']));
    // The handler's result, with the interceptor's `usage` envelope added.
    const [result, usage] = tool.responses['200'].content['application/json'].schema.allOf;
    expect(result.$ref).toBe('#/components/schemas/ToolResult');
    expect(usage).toMatchObject({ required: ['usage'], properties: { usage: { $ref: '#/components/schemas/UsageEnvelope' } } });
    const llm = doc.paths['/api/llm/complete'].post.responses['200'].content['application/json'].schema.allOf;
    expect(llm[0].$ref).toBe('#/components/schemas/LlmCompletion');
    expect(doc.paths['/api/admin/jobs/{name}/run'].post.requestBody?.required).not.toBe(true);
  });

  it('lets a validator tell a single event from a batch (exactly one alternative matches each)', () => {
    const validator = new ContractValidator(doc as never);
    const body = doc.paths['/api/organizations/{orgId}/usage/events'].post.requestBody.content['application/json'].schema;
    const matches = (value: unknown) => (body.oneOf as Json[]).filter((alternative) => validator.matches(alternative, value)).length;
    expect(matches({ eventType: 'structuring_diagnose', eventData: { complexity: 2 } })).toBe(1);
    expect(matches({ events: [{ eventType: 'visuals_planning' }] })).toBe(1);
    expect(matches({ events: [] })).toBe(0);
    expect(matches({ eventData: {} })).toBe(0);
  });

  it('gives public routes no security requirement and every other route the bearer key', () => {
    const publicOnes = operations().filter(({ op }) => Array.isArray(op.security) && op.security.length === 0).map(({ method, path }) => `${method} ${path}`);
    expect(publicOnes.sort()).toEqual(['get /', 'get /api/plans', 'get /dashboard', 'get /dashboard/{path}', 'get /health', 'get /metrics']);
    expect(doc.security).toEqual([{ bearer: [] }]);
  });

  it('has an example for every path parameter', () => {
    for (const { path, method, op } of operations()) {
      for (const p of (op.parameters ?? []) as Json[]) {
        if (p.in !== 'path') continue;
        expect(`${method} ${path} {${p.name}}: ${p.example ?? p.schema?.example ?? 'none'}`).not.toMatch(/: none$/);
      }
    }
  });

  it('fails the check for a response the document does not describe (the contract check can fail)', async () => {
    const validator = new ContractValidator(doc as never);
    const route = '/api/organizations/:orgId/usage';
    expect(validator.check('GET', '/x', route, 200, 'application/json', JSON.stringify({ organizationId: 'a' }))?.problem).toMatch(/does not match/);
    expect(validator.check('GET', '/x', route, 418, 'application/json', '{}')?.problem).toMatch(/status 418 is not documented/);
    expect(validator.check('GET', '/x', '/api/nowhere', 200, 'application/json', '{}')?.problem).toMatch(/not in the document/);
    expect(validator.check('GET', '/x', route, 404, 'application/json', JSON.stringify({ statusCode: 404, error: 'NO_SUCH_CODE', message: 'x' }))?.problem).toMatch(/does not match/);
    const summary = (await t.http().get('/api/admin/organizations?limit=1').set(ADMIN).expect(200)).body;
    expect(validator.check('GET', '/x', '/api/admin/organizations', 200, 'application/json', JSON.stringify(summary))).toBeUndefined();
  });
});
