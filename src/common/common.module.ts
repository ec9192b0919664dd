import { DynamicModule, Global, Module } from '@nestjs/common';
import { Clock, SystemClock } from './clock/clock';
import { MetricsController } from './metrics/metrics.controller';
import { MetricsService } from './metrics/metrics.service';

/** Cross-cutting providers every module may inject: the clock and the metrics. */
@Global()
@Module({})
export class CommonModule {
  /** `metricsRoute: false` (embedded in another application): the metrics are kept, /metrics is not mounted. */
  static forRoot(clock: Clock = new SystemClock(), { metricsRoute = true }: { metricsRoute?: boolean } = {}): DynamicModule {
    return {
      module: CommonModule,
      controllers: metricsRoute ? [MetricsController] : [],
      providers: [MetricsService, { provide: Clock, useValue: clock }],
      exports: [MetricsService, Clock],
    };
  }
}
