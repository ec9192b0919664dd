import { Module } from '@nestjs/common';
import { MeteringDataSourceModule } from '../../database/metering-data-source.module';
import { CreditGrantsRepository } from './credit-grants.repository';
import { IdempotencyKeysRepository } from './idempotency-keys.repository';
import { LedgerRepository } from './ledger.repository';
import { LedgerService } from './ledger.service';
import { NotificationsRepository } from './notifications.repository';
import { PeriodBalancesRepository } from './period-balances.repository';
import { ReservationsRepository } from './reservations.repository';
import { RollupsRepository } from './rollups.repository';
import { WebhookOutboxRepository } from './webhook-outbox.repository';

/**
 * The ledger's tables and their only writers: usage events, grant consumptions, notifications and refused
 * events (LedgerRepository), idempotency keys (IdempotencyKeysRepository), period balances, credit grants, reservations, the
 * rollups and the webhook outbox, one repository each. Nothing outside this module writes them
 * (table-ownership.spec.ts). No routes and no dependency on another domain module, so every module,
 * the embedded UsageTrackingModule.forRoot included, imports it as it is. Debits, holds and idempotency
 * keys are reached through LedgerService (debit, hold, extend, settle, release, refund), never their
 * repositories (table-ownership.spec.ts checks the imports).
 */
@Module({
  imports: [MeteringDataSourceModule],
  providers: [LedgerService, LedgerRepository, IdempotencyKeysRepository, PeriodBalancesRepository, CreditGrantsRepository, ReservationsRepository, RollupsRepository, WebhookOutboxRepository, NotificationsRepository],
  exports: [LedgerService, LedgerRepository, IdempotencyKeysRepository, PeriodBalancesRepository, CreditGrantsRepository, ReservationsRepository, RollupsRepository, WebhookOutboxRepository, NotificationsRepository],
})
export class LedgerModule {}
