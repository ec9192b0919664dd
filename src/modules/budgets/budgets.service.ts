import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Principal } from '../../common/auth/principal';
import { Clock } from '../../common/clock/clock';
import { DomainError } from '../../common/errors/domain-error';
import { hundredthsFromDecimalString, hundredthsFromNumber, hundredthsToDecimalString, hundredthsToNumber } from '../../common/money/credits';
import { periodOf } from '../../common/time/period';
import { OrganizationsService } from '../organizations/organizations.service';
import { BudgetsRepository } from './budgets.repository';
import type { BudgetRow } from './budgets.repository';
import { CreateBudgetDto, UpdateBudgetDto } from './dto/budget.dto';
import type { BudgetList, BudgetView } from '../../../libs/contracts/src/budgets.types';

/**
 * Budgets inside an organization. This service manages the limits; enforcement is in the debit
 * itself (consume_credits_many), so every tracking path obeys them under any concurrency.
 */
@Injectable()
export class BudgetsService {
  constructor(
    private readonly repository: BudgetsRepository,
    private readonly organizations: OrganizationsService,
    private readonly clock: Clock,
  ) {}

  /** `caller`: who asks (the admin, or an organization key on the `manage` routes); absent inside the service itself. */
  async create(organizationId: string, dto: CreateBudgetDto, caller?: Principal): Promise<BudgetView> {
    await this.organizations.assertExists(organizationId);
    if (dto.scope === 'apiKey' && !(await this.repository.apiKeyExists(organizationId, dto.subject))) {
      throw new DomainError('API_KEY_NOT_FOUND', `The organization has no API key "${dto.subject}"`, { organizationId, apiKeyId: dto.subject });
    }
    await this.assertNotCallersOwn(organizationId, dto, caller);
    const id = randomUUID();
    const inserted = await this.repository.insert({ organizationId, id, scope: dto.scope, subject: dto.subject, period: dto.period, credits: hundredthsToDecimalString(hundredthsFromNumber(dto.credits)), now: this.clock.now() });
    if (!inserted) {
      throw new DomainError('ALREADY_EXISTS', `A ${dto.period} budget for ${dto.scope} "${dto.subject}" already exists`, { scope: dto.scope, subject: dto.subject, period: dto.period });
    }
    return this.get(organizationId, id);
  }

  async list(organizationId: string): Promise<BudgetList> {
    await this.organizations.assertExists(organizationId);
    const now = this.clock.now();
    const items = (await this.repository.list(organizationId, ...windows(now))).map((r) => toView(r, now));
    return { items, count: items.length };
  }

  async get(organizationId: string, id: string): Promise<BudgetView> {
    await this.organizations.assertExists(organizationId);
    const now = this.clock.now();
    const row = await this.repository.find(organizationId, id, ...windows(now));
    if (!row) throw notFound(id);
    return toView(row, now);
  }

  async update(organizationId: string, id: string, dto: UpdateBudgetDto, caller?: Principal): Promise<BudgetView> {
    await this.organizations.assertExists(organizationId);
    // Read before the write: a budget's scope and subject never change, so the check cannot go stale.
    if (caller?.kind === 'organization') await this.assertNotCallersOwn(organizationId, await this.get(organizationId, id), caller);
    // A lower limit applies from the next debit: what was used stays, and nothing more fits until it is below.
    if (!(await this.repository.updateCredits(organizationId, id, hundredthsToDecimalString(hundredthsFromNumber(dto.credits)), this.clock.now()))) throw notFound(id);
    return this.get(organizationId, id);
  }

  async remove(organizationId: string, id: string, caller?: Principal): Promise<BudgetView> {
    const view = await this.get(organizationId, id);
    await this.assertNotCallersOwn(organizationId, view, caller);
    if (!(await this.repository.delete(organizationId, id))) throw notFound(id);
    return view;
  }

  /**
   * A key may not create, change or delete a budget that limits it: its own (scope apiKey, its id) or its
   * member's (scope user, the member the key belongs to). Otherwise a key with the manage scope lifts its
   * own limit. The admin key, and another key of the organization, may.
   */
  private async assertNotCallersOwn(organizationId: string, budget: { scope: string; subject: string }, caller: Principal | undefined): Promise<void> {
    if (caller?.kind !== 'organization') return;
    const own = budget.scope === 'apiKey' ? budget.subject === caller.id : budget.subject === (await this.repository.apiKeyMember(organizationId, caller.id));
    if (own) {
      throw new DomainError('BUDGET_APPLIES_TO_CALLER', `This budget limits the API key making the request${budget.scope === 'user' ? " (through the member it belongs to)" : ''}: an admin or another key must change it`, {
        scope: budget.scope,
        subject: budget.subject,
        apiKeyId: caller.id,
      });
    }
  }
}

/** The current windows: today (UTC) for daily budgets, the month's first day for monthly ones. */
function windows(now: Date): [string, string] {
  return [now.toISOString().slice(0, 10), periodOf(now).start.toISOString().slice(0, 10)];
}

function toView(row: BudgetRow, now: Date): BudgetView {
  const credits = hundredthsFromDecimalString(row.credits);
  const used = hundredthsFromDecimalString(row.used);
  let start: Date;
  let end: Date;
  if (row.period === 'day') {
    start = new Date(`${now.toISOString().slice(0, 10)}T00:00:00.000Z`);
    end = new Date(start.getTime() + 86_400_000);
  } else {
    ({ start, end } = periodOf(now));
  }
  return {
    id: row.id,
    organizationId: row.organization_id,
    scope: row.scope,
    subject: row.subject,
    subjectName: row.subject_name ?? null,
    period: row.period,
    credits: hundredthsToNumber(credits),
    used: hundredthsToNumber(used),
    remaining: hundredthsToNumber(Math.max(0, credits - used)),
    window: { start: start.toISOString(), end: end.toISOString() },
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}

function notFound(id: string): DomainError {
  return new DomainError('BUDGET_NOT_FOUND', `Budget "${id}" does not exist`, { budgetId: id });
}
