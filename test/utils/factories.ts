import { randomBytes } from 'node:crypto';
import type { ApiKeyScope } from '../../src/common/auth/auth.decorators';
import type { CreateOrganizationDto } from '../../src/modules/organizations/dto/organization.dto';
import type { OrganizationsService } from '../../src/modules/organizations/organizations.service';
import { LedgerService } from '../../src/modules/ledger/ledger.service';
import type { DebitOutcome } from '../../src/modules/ledger/ledger.service';
import { consumeParams, EventPreparer } from '../../src/modules/usage/event-preparer.service';
import { TrackRejections } from '../../src/modules/usage/track-rejections.service';
import type { Prepared, TrackInput } from '../../src/modules/usage/usage.types';
import { ADMIN } from './test-config';
import type { TestApp } from './test-app';
import type { TestModule } from './test-module';

/**
 * What the suites build over and over, once: organizations, keys, and the calls of tracking, reservations
 * and the usage summary. Every factory but createOrgWith (the integration tier's, through the service) goes
 * through the HTTP API with the admin key (the real app module, the real database), fails loudly with the
 * answer's body when the app refuses, and makes ids no other test (or earlier run on a shared database) uses.
 */

/** A fresh id no other test uses: `<prefix>-<10 hex>`. */
export function uniqueOrgId(prefix = 'org'): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

export interface OrgOptions {
  /** The id's prefix (the suite's name, so a leftover row says where it came from). */
  prefix?: string;
  /** An exact id instead of a generated one. */
  id?: string;
  /** More fields of the creation body: spendCap, billingCycle, webhookUrl, name. */
  [field: string]: unknown;
}

/** Creates an organization on `plan` and returns its id. */
export async function createOrg(t: TestApp, plan = 'free', options: OrgOptions = {}): Promise<string> {
  const { prefix, id: given, ...extra } = options;
  const id = given ?? uniqueOrgId(prefix);
  const res = await t.http().post('/api/admin/organizations').set(ADMIN).send({ id, name: `Org ${id}`, plan, ...extra });
  if (res.status !== 201) throw new Error(`creating organization ${id}: ${res.status} ${res.text}`);
  return id;
}

/** Creates `n` organizations on `plan`, one after another (ids in creation order). */
export async function createOrgs(t: TestApp, n: number, plan = 'free', options: OrgOptions = {}): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(await createOrg(t, plan, options));
  return ids;
}

export interface IssuedKey {
  id: string;
  key: string;
  scopes: ApiKeyScope[];
  /** `Authorization: Bearer <key>`. */
  headers: { Authorization: string };
}

/** Issues an organization API key (admin route); `userId` ties it to a member. */
export async function issueKey(t: TestApp, orgId: string, scopes: ApiKeyScope[] = ['track', 'read', 'manage'], options: { name?: string; userId?: string } = {}): Promise<IssuedKey> {
  const res = await t.http().post(`/api/admin/organizations/${orgId}/api-keys`).set(ADMIN).send({ name: options.name ?? `key ${scopes.join('+')}`, scopes, userId: options.userId });
  if (res.status !== 201) throw new Error(`creating a key for ${orgId}: ${res.status} ${res.text}`);
  return { id: res.body.id, key: res.body.key, scopes: res.body.scopes, headers: { Authorization: `Bearer ${res.body.key}` } };
}

export async function revokeKey(t: TestApp, orgId: string, keyId: string): Promise<void> {
  const res = await t.http().delete(`/api/admin/organizations/${orgId}/api-keys/${keyId}`).set(ADMIN);
  if (res.status !== 200) throw new Error(`revoking ${keyId}: ${res.status} ${res.text}`);
}

type Headers = Record<string, string>;

/**
 * The calls, as supertest requests still to be awaited (so a test chains `.expect(201)` or reads the
 * refusal). Admin key unless `headers` carries another Authorization.
 */
export const calls = {
  /** One event, or `{events: […]}` for a batch: `POST /api/organizations/:orgId/usage/events`. */
  track: (t: TestApp, orgId: string, body: Record<string, unknown>, headers: Headers = {}) => t.http().post(`/api/organizations/${orgId}/usage/events`).set(ADMIN).set(headers).send(body),
  reserve: (t: TestApp, orgId: string, body: Record<string, unknown>, headers: Headers = {}) =>
    t.http().post(`/api/organizations/${orgId}/usage/reservations`).set(ADMIN).set(headers).send(body),
  commit: (t: TestApp, orgId: string, reservationId: string, body: Record<string, unknown> = {}, headers: Headers = {}) =>
    t.http().post(`/api/organizations/${orgId}/usage/reservations/${reservationId}/commit`).set(ADMIN).set(headers).send(body),
  release: (t: TestApp, orgId: string, reservationId: string, headers: Headers = {}) =>
    t.http().post(`/api/organizations/${orgId}/usage/reservations/${reservationId}/release`).set(ADMIN).set(headers).send({}),
  /** The current period at a glance: `GET /api/organizations/:orgId/usage`. */
  summary: (t: TestApp, orgId: string, headers: Headers = {}) => t.http().get(`/api/organizations/${orgId}/usage`).set(ADMIN).set(headers),
  /** A `@TrackUsage` route of the service, for the organization named in X-Organization-Id. */
  route: (t: TestApp, path: string, orgId: string, body: Record<string, unknown> = {}, headers: Headers = {}) =>
    t.http().post(path).set(ADMIN).set('X-Organization-Id', orgId).set(headers).send(body),
};

/**
 * The integration tier (no HTTP): the same organization, made through OrganizationsService as the admin route
 * would (its plan history and webhook secret included). Returns its id.
 */
export async function createOrgWith(organizations: Pick<OrganizationsService, 'create'>, plan = 'free', options: OrgOptions = {}): Promise<string> {
  const { prefix, id: given, ...extra } = options;
  const id = given ?? uniqueOrgId(prefix);
  await organizations.create({ id, name: `Org ${id}`, plan, ...extra } as CreateOrganizationDto);
  return id;
}

/**
 * An llm_completion event of the seed that costs `credits` (0.5 + 0.002 per input token, so any price is one
 * event away; to the nearest 0.002 above 0.5).
 */
export function llmEventCosting(organizationId: string, credits: number, extra: Partial<TrackInput> = {}): TrackInput {
  return { organizationId, eventType: 'llm_completion', eventData: llmUnitsCosting(credits), ...extra };
}

/** The eventData of such an event (a commit's or an extension's units). */
export function llmUnitsCosting(credits: number): { units: { inputTokens: number; outputTokens: number } } {
  return { units: { inputTokens: Math.round((credits - 0.5) / 0.002), outputTokens: 0 } };
}

/**
 * The integration tier: one LedgerService.debit of these events as LedgerRecorder makes it (prepared and
 * priced by EventPreparer at `now`, their partitions made first), on `t`'s instance; `around` wraps the debit
 * alone. Outcomes in the inputs' order, with each prepared event.
 */
export async function debitAsRecorded(t: TestModule, now: Date, inputs: TrackInput[], around = <T>(work: () => Promise<T>) => work()): Promise<Array<{ p: Prepared; outcome: DebitOutcome }>> {
  const preparer = t.get(EventPreparer);
  const rejections = t.get(TrackRejections);
  const ledger = t.get(LedgerService);
  const items = await Promise.all(inputs.map((input, i) => preparer.prepare(input, i, now)));
  for (const start of new Set(items.map((p) => p.periodStart))) await ledger.ensurePartition(start);
  const outcomes = await around(() => ledger.debit(items, now, (p) => consumeParams(p, now), (results) => rejections.plansOf(results)));
  return items.map((p, n) => ({ p, outcome: outcomes.get(n)! }));
}
