import { Injectable, StreamableFile } from '@nestjs/common';
import { DomainError } from '../../common/errors/domain-error';
import { parsePeriodKey, periodKey } from '../../common/time/period';
import { OrganizationsService } from '../organizations/organizations.service';
import { BillingRepository } from './billing.repository';
import type { ExportFormat } from './dto/analytics-query.dto';
import { wantsCsv } from './utils/content-negotiation';
import { periodStartDay } from './utils/dates';
import type { MonthlyReport } from './utils/monthly-report';

/** The monthly reports the period close froze (docs/operations.md): a list, and one as JSON or CSV. */
@Injectable()
export class ReportsService {
  constructor(
    private readonly organizations: OrganizationsService,
    private readonly billing: BillingRepository,
  ) {}

  async list(organizationId: string) {
    await this.organizations.getRow(organizationId);
    return { items: await this.billing.listReports(organizationId) };
  }

  /** The stored report as JSON, or its CSV as a text/csv download. */
  async get(organizationId: string, key: string, format: ExportFormat | undefined, accept: string | undefined): Promise<MonthlyReport | StreamableFile> {
    await this.organizations.getRow(organizationId);
    const period = parsePeriodKey(key);
    const stored = await this.billing.report(organizationId, periodStartDay(period));
    if (!stored) {
      throw new DomainError('NOT_FOUND', `No report for ${periodKey(period)}: reports are written when a period closes`, { period: periodKey(period) });
    }
    if (!wantsCsv(format, accept)) return stored.report;
    return new StreamableFile(Buffer.from(stored.csv, 'utf8'), {
      type: 'text/csv; charset=utf-8',
      disposition: `attachment; filename="usage-report-${organizationId}-${periodKey(period)}.csv"`,
    });
  }
}
