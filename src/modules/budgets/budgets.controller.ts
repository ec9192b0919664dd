import { Body, Controller, Delete, Get, Param, Patch, Post } from '@nestjs/common';
import { ApiForbiddenResponse, ApiTags } from '@nestjs/swagger';
import { Scopes } from '../../common/auth/auth.decorators';
import { BudgetDocs } from './budgets.docs';
import { BudgetsService } from './budgets.service';
import { CreateBudgetDto, UpdateBudgetDto } from './dto/budget.dto';

/** An organization's own budgets, for its key with the `manage` scope (another organization's are 404). */
@ApiTags('budgets')
@Scopes('manage')
@ApiForbiddenResponse({ description: 'FORBIDDEN: the key lacks the manage scope' })
@Controller('api/organizations/:orgId/budgets')
export class BudgetsController {
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
