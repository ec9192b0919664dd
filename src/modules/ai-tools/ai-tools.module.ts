import { Module } from '@nestjs/common';
import { UsageTrackingModule } from '../tracking/usage-tracking.module';
import { AI_TOOL_CONTROLLERS, UntrackedBenchController } from './ai-tools.controllers';
import { AiToolsService } from './ai-tools.service';

/** Sample AI tool routes, one per seeded event type, each metered with @TrackUsage. */
@Module({
  imports: [UsageTrackingModule],
  // The untracked twin exists only for the overhead benchmark (read when the module loads).
  controllers: [...AI_TOOL_CONTROLLERS, ...(process.env.BENCH_ROUTES === 'true' ? [UntrackedBenchController] : [])],
  providers: [AiToolsService],
})
export class AiToolsModule {}
