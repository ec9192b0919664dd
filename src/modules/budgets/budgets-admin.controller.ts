import { Controller } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { BudgetRoutes } from './budget-routes';
import { BudgetsService } from './budgets.service';

/** Admin-only (no @Scopes): operators manage any organization's budgets. */
@ApiTags('admin: organizations')
@Controller('api/admin/organizations/:orgId/budgets')
export class BudgetsAdminController extends BudgetRoutes {
  // Its own constructor, so the injector reads this class's parameter types (not the abstract base's).
  constructor(budgets: BudgetsService) {
    super(budgets);
  }
}
