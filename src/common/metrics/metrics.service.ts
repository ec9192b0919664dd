import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * One Prometheus registry per app instance (two apps in one process, as in tests, would otherwise clash).
 * Domain modules count through the metrics declared here.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly httpRequests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });

  readonly httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly httpInFlight = new Gauge({
    name: 'http_requests_in_flight',
    help: 'Requests being worked on (load shedding answers 503 past MAX_IN_FLIGHT_REQUESTS)',
    registers: [this.registry],
  });

  readonly eventsTracked = new Counter({
    name: 'usage_events_tracked_total',
    help: 'Usage events recorded, by event type',
    labelNames: ['event_type'] as const,
    registers: [this.registry],
  });

  readonly creditsConsumed = new Counter({
    name: 'usage_credits_consumed_total',
    help: 'Credits consumed by recorded events',
    registers: [this.registry],
  });

  readonly rejections = new Counter({
    name: 'usage_rejections_total',
    help: 'Tracking attempts rejected, by error code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });

  readonly cacheLookups = new Counter({
    name: 'config_cache_lookups_total',
    help: 'Definition cache lookups by registry and result',
    labelNames: ['registry', 'result'] as const,
    registers: [this.registry],
  });

  readonly jobRuns = new Counter({
    name: 'job_runs_total',
    help: 'Scheduled job runs by job and status',
    labelNames: ['job', 'status'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}
