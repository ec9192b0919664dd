import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { OrganizationsService } from '../organizations/organizations.service';

@Injectable()
export class WebhooksService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly organizations: OrganizationsService,
  ) {}

  async deliveries(organizationId: string) {
    await this.organizations.getRow(organizationId);
    const rows = (await this.dataSource.query(
      `SELECT d.id, d.event, d.status, d.attempts, d.next_attempt_at, d.last_error, d.created_at, d.delivered_at, d.payload,
              coalesce((SELECT jsonb_agg(jsonb_build_object('attempt', a.attempt, 'statusCode', a.status_code, 'error', a.error, 'durationMs', a.duration_ms, 'at', a.attempted_at) ORDER BY a.attempt)
                          FROM webhook_attempts a WHERE a.organization_id = d.organization_id AND a.delivery_id = d.id), '[]'::jsonb) AS attempt_log
         FROM webhook_deliveries d WHERE d.organization_id = $1 ORDER BY d.created_at DESC, d.id LIMIT 200`,
      [organizationId],
    )) as Array<Record<string, unknown>>;
    return {
      items: rows.map((r) => ({
        id: r.id,
        event: r.event,
        status: r.status,
        attempts: r.attempts,
        nextAttemptAt: r.status === 'pending' ? new Date(r.next_attempt_at as string).toISOString() : null,
        lastError: r.last_error,
        createdAt: new Date(r.created_at as string).toISOString(),
        deliveredAt: r.delivered_at ? new Date(r.delivered_at as string).toISOString() : null,
        payload: r.payload,
        attemptLog: r.attempt_log,
      })),
    };
  }
}
