import { Injectable } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import { MetricsService } from '../../common/metrics/metrics.service';
import { IngestQueue } from './ingest-queue.types';

/**
 * The ingest queue in /metrics: its lag (events and bytes waiting, the oldest one's age, measured when
 * scraped, the same for every instance since the queue is shared) and what this instance appended,
 * drained and refused because the queue was full.
 */
/** The longest a scrape waits for the queue's lag before it answers with the last figures (milliseconds). */
const SCRAPE_WAIT_MS = 500;

@Injectable()
export class IngestMetrics {
  readonly appended: Counter<'store'>;
  readonly drained: Counter<'status'>;
  readonly full: Counter;
  readonly redelivered: Counter;

  constructor(metrics: MetricsService, queue: IngestQueue) {
    const registers = [metrics.registry];
    this.appended = new Counter({ name: 'ingest_appended_total', help: 'Asynchronous events stored in the ingest queue by this instance', labelNames: ['store'] as const, registers });
    this.drained = new Counter({ name: 'ingest_drained_total', help: 'Ingested events written to the ledger by this instance, by outcome (accepted, duplicate, rejected)', labelNames: ['status'] as const, registers });
    this.full = new Counter({ name: 'ingest_queue_full_total', help: 'Asynchronous calls refused with 503 INGEST_QUEUE_FULL', registers });
    this.redelivered = new Counter({ name: 'ingest_redelivered_total', help: 'Messages delivered again after an earlier delivery wrote them (JetStream): acknowledged, not written twice', registers });
    // Measured on scrape (one query, only when someone asks) by the first of the four gauges: the registry
    // collects them in registration order, so the other three are set before they are written.
    const gauges: { bytes?: Gauge; age?: Gauge; up?: Gauge } = {};
    new Gauge({
      name: 'ingest_queue_waiting',
      help: 'Events waiting in the ingest queue (claimed ones included until acknowledged)',
      registers,
      async collect() {
        // A scrape never waits on the database for long: on the embedded database (one session) a long
        // transaction would hold /metrics, and with it the monitoring of an overloaded service. Past the
        // wait the last figures stay and `ingest_queue_up` says 0; the query still finishes behind.
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), SCRAPE_WAIT_MS).unref()));
        try {
          const lag = await Promise.race([queue.lag(), late]);
          if (!lag) return void gauges.up?.set(0);
          this.set(lag.waiting);
          gauges.bytes?.set(lag.waitingBytes);
          gauges.age?.set(lag.oldestAgeMs / 1000);
          gauges.up?.set(1);
        } catch {
          gauges.up?.set(0);
        } finally {
          clearTimeout(timer);
        }
      },
    });
    gauges.bytes = new Gauge({ name: 'ingest_queue_waiting_bytes', help: 'Bytes of the events waiting in the ingest queue', registers });
    gauges.age = new Gauge({ name: 'ingest_queue_oldest_age_seconds', help: 'Age of the oldest event waiting in the ingest queue', registers });
    gauges.up = new Gauge({ name: 'ingest_queue_up', help: '1 when the ingest queue answered the last scrape', registers });
  }
}
