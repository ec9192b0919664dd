import { Body, Delete, Get, Param, Patch, Post } from '@nestjs/common';
import { CurrentPrincipal } from '../../common/auth/current-principal.decorator';
import type { Principal } from '../../common/auth/principal';
import { BudgetDocs } from './budgets.docs';
import { BudgetsService } from './budgets.service';
import { CreateBudgetDto, UpdateBudgetDto } from './dto/budget.dto';

/**
 * The budget routes, once: the admin surface and the organization's own (`manage` scope) are the same
 * handlers under two prefixes, told apart only by their class's path and guard (see the two controllers).
 */
export abstract class BudgetRoutes {
  constructor(protected readonly budgets: BudgetsService) {}

  @Post()
  @BudgetDocs.create()
  create(@Param('orgId') orgId: string, @Body() dto: CreateBudgetDto, @CurrentPrincipal() caller: Principal | undefined) {
    return this.budgets.create(orgId, dto, caller);
  }

  @Get()
  @BudgetDocs.list()
  list(@Param('orgId') orgId: string) {
    return this.budgets.list(orgId);
  }

  @Get(':id')
  @BudgetDocs.get()
  get(@Param('orgId') orgId: string, @Param('id') id: string) {
    return this.budgets.get(orgId, id);
  }

  @Patch(':id')
  @BudgetDocs.update()
  update(@Param('orgId') orgId: string, @Param('id') id: string, @Body() dto: UpdateBudgetDto, @CurrentPrincipal() caller: Principal | undefined) {
    return this.budgets.update(orgId, id, dto, caller);
  }

  @Delete(':id')
  @BudgetDocs.remove()
  remove(@Param('orgId') orgId: string, @Param('id') id: string, @CurrentPrincipal() caller: Principal | undefined) {
    return this.budgets.remove(orgId, id, caller);
  }
}
