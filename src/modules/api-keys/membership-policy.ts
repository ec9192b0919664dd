import { Inject, Injectable } from '@nestjs/common';
import { TransactionHost } from '../../common/database/transaction-host';
import { DomainError } from '../../common/errors/domain-error';
import { APP_CONFIG } from '../../config/app-config';
import type { AppConfig } from '../../config/app-config';

export type MemberAction = 'track' | 'read';

/**
 * Who may act for an organization when a request names a user (`X-User-Id`, or `userId` in a body):
 *  - no user named: allowed (the key or the admin acts);
 *  - an organization without members: anyone (members are optional);
 *  - a member: allowed, except that a viewer may not track (403 FORBIDDEN);
 *  - anyone else: 403 USER_NOT_MEMBER when STRICT_MEMBERSHIP (the default), else allowed.
 * Not cached: a member added or removed counts on the very next request.
 */
@Injectable()
export class MembershipPolicy {
  constructor(
    private readonly tx: TransactionHost,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * Throws when `userId` may not perform `action` for the organization. Inside a transaction it reads in
   * that one (TransactionHost; PGlite has one connection: another one would wait).
   */
  async assertMayAct(organizationId: string, userId: string | undefined, action: MemberAction): Promise<void> {
    if (userId === undefined) return;
    const [row] = (await this.tx.manager.query(
      `SELECT (SELECT role FROM organization_members WHERE organization_id = $1 AND user_id = $2) AS role,
              EXISTS (SELECT 1 FROM organization_members WHERE organization_id = $1) AS has_members`,
      [organizationId, userId],
    )) as Array<{ role: string | null; has_members: boolean }>;
    if (row.role === null) {
      if (row.has_members && this.config.strictMembership) {
        throw new DomainError('USER_NOT_MEMBER', `User "${userId}" is not a member of organization "${organizationId}"`, { organizationId, userId });
      }
      return;
    }
    if (action === 'track' && row.role === 'viewer') {
      throw new DomainError('FORBIDDEN', `User "${userId}" is a viewer of organization "${organizationId}": viewers may not track usage`, { organizationId, userId, role: row.role });
    }
  }
}
