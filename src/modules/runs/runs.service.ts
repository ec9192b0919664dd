import { Injectable } from '@nestjs/common';
import Big from 'big.js';
import { createHash, randomUUID } from 'node:crypto';
import { Clock } from '../../common/clock/clock';
import { DomainError, validationFailed } from '../../common/errors/domain-error';
import { amountOutOfBounds, MAX_RUN_BUDGET_CREDITS } from '../../common/money/bounds';
import { OrganizationsService } from '../organizations/organizations.service';
import { ReservationsService } from '../usage/reservations.service';
import { runNotFound } from '../usage/event-preparer.service';
import type { RunChild, RunClosed, RunItem, RunList, RunSummary, RunView } from '../../../libs/contracts/src/runs.types';
import { CreateRunDto, MAX_RUN_DEPTH } from './dto/create-run.dto';
import type { ListRunsQueryDto } from './dto/list-runs.dto';
import { RunsRepository } from './runs.repository';
import type { RunRow } from './runs.repository';
import { creditsDecimal, shownCredits } from './utils/run-credits';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Agent runs: a tree of runs per organization, each with an optional budget. This service creates, shows and
 * closes them; what a call carrying a run id may spend is decided in the debit itself (consume_credits_many
 * locks the run and every ancestor), so no interleaving of requests or instances passes a budget.
 */
@Injectable()
export class RunsService {
  constructor(
    private readonly repository: RunsRepository,
    private readonly organizations: OrganizationsService,
    private readonly reservations: ReservationsService,
    private readonly clock: Clock,
  ) {}

  async create(organizationId: string, dto: CreateRunDto, idempotencyKey?: string): Promise<RunView> {
    await this.organizations.assertExists(organizationId);
    const budget = dto.budgetCredits === undefined ? null : creditsDecimal(dto.budgetCredits);
    if (budget !== null && new Big(budget).gt(MAX_RUN_BUDGET_CREDITS)) throw amountOutOfBounds('runBudgetCredits', { budgetCredits: budget });
    const requestHash = idempotencyKey ? hashOf({ budget, parentRunId: dto.parentRunId ?? null, label: dto.label ?? null, ttlSeconds: dto.ttlSeconds ?? null }) : null;
    if (idempotencyKey) {
      const replay = await this.replayOf(organizationId, idempotencyKey, requestHash!);
      if (replay) return replay;
    }
    const now = this.clock.now();
    let path: string[] = [];
    if (dto.parentRunId) {
      const parent = await this.repository.find(organizationId, dto.parentRunId);
      if (!parent) throw runNotFound(dto.parentRunId);
      const reason = closedReason(parent, await this.repository.ancestors(organizationId, parent.path), now);
      if (reason) throw runClosed(parent.id, reason);
      if (parent.path.length >= MAX_RUN_DEPTH) throw validationFailed({ parentRunId: [`runs nest at most ${MAX_RUN_DEPTH} deep`] });
      path = parent.path;
    }
    const id = randomUUID();
    const inserted = await this.repository.insert({
      organizationId,
      id,
      parentId: dto.parentRunId ?? null,
      path: [...path, id],
      label: dto.label ?? null,
      budget,
      expiresAt: dto.ttlSeconds === undefined ? null : new Date(now.getTime() + dto.ttlSeconds * 1000),
      now,
      idempotencyKey: idempotencyKey ?? null,
      requestHash,
    });
    if (!inserted) {
      // A concurrent create under the same key won: answer with its run.
      const replay = await this.replayOf(organizationId, idempotencyKey!, requestHash!);
      if (replay) return replay;
    }
    return this.get(organizationId, id);
  }

  async get(organizationId: string, id: string): Promise<RunView> {
    await this.organizations.assertExists(organizationId);
    const run = UUID.test(id) ? await this.repository.find(organizationId, id) : undefined;
    if (!run) throw runNotFound(id);
    return this.view(run);
  }

  /**
   * The organization's top-level runs (or one run's children), newest first, each with its subtree's spend
   * and holds. A status filter is applied to the page as read, so a page may hold fewer than `limit` runs
   * while `nextCursor` still says there are more.
   */
  async list(organizationId: string, query: ListRunsQueryDto): Promise<RunList> {
    await this.organizations.assertExists(organizationId);
    const limit = query.limit ?? 50;
    let ancestors: RunRow[] = [];
    if (query.parentRunId) {
      const parent = await this.repository.find(organizationId, query.parentRunId);
      if (!parent) throw runNotFound(query.parentRunId);
      ancestors = [...(await this.repository.ancestors(organizationId, parent.path)), parent];
    }
    if (query.before && !(await this.repository.find(organizationId, query.before))) throw validationFailed({ before: ['before must be the id of a run of this organization (a nextCursor)'] });
    const rows = await this.repository.page(organizationId, query.parentRunId ?? null, limit + 1, query.before ?? null);
    const page = rows.slice(0, limit);
    const ids = page.map((r) => r.id);
    const [totals, counts] = await Promise.all([this.repository.totals(organizationId, ids), this.repository.childCounts(organizationId, ids)]);
    const now = this.clock.now();
    const items = page
      .map((run): RunSummary => {
        const t = totals.get(run.id) ?? { spent: '0', held: '0' };
        const reason = closedReason(run, ancestors, now);
        return {
          id: run.id,
          parentRunId: run.parent_id,
          label: run.label,
          status: reason ? 'closed' : 'open',
          closedReason: reason,
          budgetCredits: shownCredits(run.budget),
          spentCredits: shownCredits(t.spent)!,
          heldCredits: shownCredits(t.held)!,
          remainingCredits: remainingOf(run.budget, t.spent, t.held),
          childRuns: counts.get(run.id) ?? 0,
          expiresAt: run.expires_at ? new Date(run.expires_at).toISOString() : null,
          createdAt: new Date(run.created_at).toISOString(),
          closedAt: run.closed_at ? new Date(run.closed_at).toISOString() : null,
        };
      })
      .filter((r) => query.status === undefined || r.status === query.status);
    return { items, nextCursor: rows.length > limit ? page[page.length - 1].id : null };
  }

  /**
   * Closes the run and its descendants (their ids take no more calls), then gives back every hold still
   * pending on them. Safe to repeat: a second close finds the runs closed and releases what is left (a hold
   * made before the close whose release an earlier attempt did not reach).
   */
  async close(organizationId: string, id: string): Promise<RunClosed> {
    await this.organizations.assertExists(organizationId);
    const run = UUID.test(id) ? await this.repository.find(organizationId, id) : undefined;
    if (!run) throw runNotFound(id);
    await this.repository.close(organizationId, id, this.clock.now());
    // After the close committed: no debit can add a hold to these runs any more, so the list is complete.
    let released = 0;
    for (const reservationId of await this.repository.pendingHolds(organizationId, id)) {
      try {
        await this.reservations.release(organizationId, reservationId);
        released++;
      } catch (error) {
        // Committed, released or expired meanwhile: nothing left to give back.
        if (!(error instanceof DomainError && (error.code === 'RESERVATION_SETTLED' || error.code === 'RESERVATION_NOT_FOUND'))) throw error;
      }
    }
    return { ...(await this.get(organizationId, id)), releasedReservations: released };
  }

  private async replayOf(organizationId: string, key: string, requestHash: string): Promise<RunView | undefined> {
    const existing = await this.repository.findByKey(organizationId, key);
    if (!existing) return undefined;
    if (existing.request_hash !== requestHash) {
      throw new DomainError('IDEMPOTENCY_CONFLICT', `Idempotency key "${key}" was already used with a different request`, { idempotencyKey: key });
    }
    return this.view(existing);
  }

  private async view(run: RunRow): Promise<RunView> {
    const now = this.clock.now();
    const [ancestors, children, items] = await Promise.all([
      this.repository.ancestors(run.organization_id, run.path),
      this.repository.children(run.organization_id, run.id),
      this.repository.items(run.organization_id, run.id),
    ]);
    const totals = await this.repository.totals(run.organization_id, [run.id, ...children.map((c) => c.id)]);
    const own = totals.get(run.id) ?? { spent: '0', held: '0' };
    const reason = closedReason(run, ancestors, now);
    return {
      id: run.id,
      organizationId: run.organization_id,
      parentRunId: run.parent_id,
      path: run.path,
      label: run.label,
      status: reason ? 'closed' : 'open',
      closedReason: reason,
      budgetCredits: shownCredits(run.budget),
      spentCredits: shownCredits(own.spent)!,
      heldCredits: shownCredits(own.held)!,
      remainingCredits: remainingOf(run.budget, own.spent, own.held),
      expiresAt: run.expires_at ? new Date(run.expires_at).toISOString() : null,
      createdAt: new Date(run.created_at).toISOString(),
      closedAt: run.closed_at ? new Date(run.closed_at).toISOString() : null,
      items: items.map((i): RunItem => ({ eventType: i.event_type, events: Number(i.events), credits: shownCredits(i.credits)!, units: i.units ?? {} })),
      children: children.map((c): RunChild => {
        const t = totals.get(c.id) ?? { spent: '0', held: '0' };
        return { id: c.id, label: c.label, status: closedReason(c, [...ancestors, run], now) ? 'closed' : 'open', budgetCredits: shownCredits(c.budget), spentCredits: shownCredits(t.spent)!, heldCredits: shownCredits(t.held)! };
      }),
    };
  }
}

/** Budget minus spent and held, never below 0; null without a budget of its own. */
function remainingOf(budget: string | null, spent: string, held: string): string | null {
  if (budget === null) return null;
  const left = new Big(budget).minus(spent).minus(held);
  return (left.gt(0) ? left : new Big(0)).toFixed();
}

/** Why a run takes no call: closed (it or an ancestor), expired (it or an ancestor passed its ttl), or null when open. The debit applies the same rule. */
function closedReason(run: RunRow, ancestors: RunRow[], now: Date): 'closed' | 'expired' | null {
  const line = [...ancestors, run];
  if (line.some((r) => r.status === 'closed')) return 'closed';
  if (line.some((r) => r.expires_at !== null && new Date(r.expires_at).getTime() <= now.getTime())) return 'expired';
  return null;
}

function runClosed(runId: string, reason: 'closed' | 'expired'): DomainError {
  return new DomainError('RUN_CLOSED', `Run "${runId}" is ${reason}: it takes no more calls`, { runId, path: [runId], limitingRunId: runId, reason });
}

function hashOf(value: Record<string, unknown>): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}
