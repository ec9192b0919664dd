import { Controller } from '@nestjs/common';
import { ApiForbiddenResponse, ApiTags } from '@nestjs/swagger';
import { Scopes } from '../../common/auth/auth.decorators';
import { BudgetRoutes } from './budget-routes';
import { BudgetsService } from './budgets.service';

/** An organization's own budgets, for its key with the `manage` scope (another organization's are 404). */
@ApiTags('budgets')
@Scopes('manage')
@ApiForbiddenResponse({ description: 'FORBIDDEN: the key lacks the manage scope' })
@Controller('api/organizations/:orgId/budgets')
export class BudgetsController extends BudgetRoutes {
  // Its own constructor, so the injector reads this class's parameter types (not the abstract base's).
  constructor(budgets: BudgetsService) {
    super(budgets);
  }
}
