import { Body, Controller, Delete, Get, Param, Patch, Post } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { BudgetDocs } from './budgets.docs';
import { BudgetsService } from './budgets.service';
import { CreateBudgetDto, UpdateBudgetDto } from './dto/budget.dto';

/** Admin-only (no @Scopes): operators manage any organization's budgets. */
@ApiTags('admin: organizations')
@Controller('api/admin/organizations/:orgId/budgets')
export class BudgetsAdminController {
  constructor(private readonly budgets: BudgetsService) {}

  @Post()
  @BudgetDocs.create()
  create(@Param('orgId') orgId: string, @Body() dto: CreateBudgetDto) {
    return this.budgets.create(orgId, dto);
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
  update(@Param('orgId') orgId: string, @Param('id') id: string, @Body() dto: UpdateBudgetDto) {
    return this.budgets.update(orgId, id, dto);
  }

  @Delete(':id')
  @BudgetDocs.remove()
  remove(@Param('orgId') orgId: string, @Param('id') id: string) {
    return this.budgets.remove(orgId, id);
  }
}
