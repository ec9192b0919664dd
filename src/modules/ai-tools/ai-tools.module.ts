import { Module } from '@nestjs/common';
import { UsageTrackingModule } from '../tracking/usage-tracking.module';
import { AI_TOOL_CONTROLLERS } from './ai-tools.controllers';
import { AiToolsService } from './ai-tools.service';

/** Sample AI tool routes, one per seeded event type, each metered with @TrackUsage. */
@Module({
  imports: [UsageTrackingModule],
  controllers: AI_TOOL_CONTROLLERS,
  providers: [AiToolsService],
})
export class AiToolsModule {}
