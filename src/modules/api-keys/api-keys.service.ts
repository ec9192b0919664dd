import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { API_KEY_SCOPES } from '../../common/auth/auth.decorators';
import type { ApiKeyScope } from '../../common/auth/auth.decorators';
import { Clock } from '../../common/clock/clock';
import { DomainError } from '../../common/errors/domain-error';
import { OrganizationsService } from '../organizations/organizations.service';
import { ApiKeyAuthenticator } from './api-key-authenticator';
import { ApiKeysRepository } from './api-keys.repository';
import { MembershipPolicy } from './membership-policy';
import type { ApiKeyRow } from './api-keys.repository';
import { CreateApiKeyDto } from './dto/create-api-key.dto';
import { displayPrefix, generateApiKey, hashApiKey, listedKeyPrefix } from './utils/api-key-secret';

/** A key as listed: never its secret. */
export interface ApiKeyView {
  id: string;
  organizationId: string;
  name: string;
  scopes: ApiKeyScope[];
  prefix: string;
  createdBy: string;
  /** The member the key belongs to (it may not change that member's budgets), or null. */
  userId: string | null;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

/** The creation answer: the only time the key itself is shown. */
export interface CreatedApiKey {
  id: string;
  organizationId: string;
  name: string;
  scopes: ApiKeyScope[];
  key: string;
  prefix: string;
  userId: string | null;
  createdAt: string;
}

function toView(row: ApiKeyRow): ApiKeyView {
  return {
    id: row.id,
    organizationId: row.organization_id,
    name: row.name,
    scopes: row.scopes,
    prefix: listedKeyPrefix(row.key_prefix),
    createdBy: row.created_by,
    userId: row.user_id ?? null,
    createdAt: new Date(row.created_at).toISOString(),
    lastUsedAt: row.last_used_at ? new Date(row.last_used_at).toISOString() : null,
    revokedAt: row.revoked_at ? new Date(row.revoked_at).toISOString() : null,
  };
}

@Injectable()
export class ApiKeysService {
  constructor(
    private readonly keys: ApiKeysRepository,
    private readonly organizations: OrganizationsService,
    private readonly authenticator: ApiKeyAuthenticator,
    private readonly clock: Clock,
    private readonly membership: MembershipPolicy,
  ) {}

  /** Creates a key; only its hash is stored, the key is in this answer and nowhere else. */
  async create(organizationId: string, dto: CreateApiKeyDto, actor: string): Promise<CreatedApiKey> {
    await this.organizations.getRow(organizationId);
    // The member it belongs to must be one (when the organization has members), as for X-User-Id.
    await this.membership.assertMayAct(organizationId, dto.userId, 'read');
    const key = generateApiKey();
    // Scopes in their canonical order, whatever order they came in.
    const scopes = API_KEY_SCOPES.filter((s) => dto.scopes.includes(s));
    const row = await this.keys.insert({
      organization_id: organizationId,
      id: randomUUID(),
      name: dto.name,
      key_prefix: displayPrefix(key),
      key_hash: hashApiKey(key),
      scopes,
      created_by: actor,
      user_id: dto.userId ?? null,
      created_at: this.clock.now(),
    });
    return { id: row.id, organizationId, name: row.name, scopes: row.scopes, key, prefix: listedKeyPrefix(row.key_prefix), userId: row.user_id ?? null, createdAt: new Date(row.created_at).toISOString() };
  }

  async list(organizationId: string): Promise<{ items: ApiKeyView[] }> {
    await this.organizations.getRow(organizationId);
    return { items: (await this.keys.list(organizationId)).map(toView) };
  }

  /**
   * Revokes a key: refused at once by this instance, by the others when the change bus message arrives
   * (within a second; the key cache TTL bounds a lost message). Revoking a
   * revoked key changes nothing and answers the same (a retried DELETE is not an error).
   */
  async revoke(organizationId: string, id: string): Promise<ApiKeyView> {
    await this.organizations.getRow(organizationId);
    const revoked = await this.keys.revoke(organizationId, id, this.clock.now());
    if (revoked) await this.authenticator.revoked({ id, keyHash: revoked.key_hash });
    const row = await this.keys.find(organizationId, id);
    if (!row) throw new DomainError('API_KEY_NOT_FOUND', `API key "${id}" does not exist in organization "${organizationId}"`, { organizationId, apiKeyId: id });
    return toView(row);
  }
}
