import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { TrackUsage, UsageDeliveryService } from '@credit-metering/nest-client';

interface SummarizeBody {
  text?: string;
  complexity?: number;
  echo?: boolean;
  fail?: boolean;
}

/** A host's own AI route, metered by the service: the handler only does its work. */
@Controller('ai')
export class AiController {
  /** How many times the handler ran (the tests read it to see that a refused request never ran it). */
  private calls = 0;

  constructor(private readonly delivery: UsageDeliveryService) {}

  @Post('summarize')
  @HttpCode(200)
  @TrackUsage<{ body: SummarizeBody }>('structuring_diagnose', {
    eventData: (req) => ({ complexity: req.body.complexity ?? 1, echo: req.body.echo === true }),
  })
  summarize(@Body() body: SummarizeBody) {
    this.calls++;
    if (body.fail) throw new Error('the model failed');
    return { summary: (body.text ?? '').slice(0, 100) };
  }

  @Get('calls')
  calls_() {
    return { calls: this.calls };
  }

  /** Delivers the journal now (it is also retried every second): what the service had missed while it was away. */
  @Post('metering/flush')
  @HttpCode(200)
  flush() {
    return this.delivery.flush();
  }
}
