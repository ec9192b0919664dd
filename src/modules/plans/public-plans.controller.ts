import { Controller, Get, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Public } from '../../common/auth/auth.decorators';
import { ListPlansQueryDto } from '../config-cache/dto/registry.dto';
import { PlanRegistry } from './plan-registry.service';

@ApiTags('plans')
@Controller('api/plans')
export class PublicPlansController {
  constructor(private readonly plans: PlanRegistry) {}

  @Public()
  @Get()
  @ApiOperation({ summary: 'Active plans, sorted by monthly price, filterable by minPrice and maxPrice (no key needed)' })
  list(@Query() query: ListPlansQueryDto) {
    const items = this.plans.listPlans({ minPrice: query.minPrice, maxPrice: query.maxPrice }).map((r) => this.plans.toView(r));
    return { items, count: items.length };
  }
}
