// The client alone, with no Nest import: `import { UsageClient } from '@credit-metering/nest-client/client'`.
export { UsageClient } from './usage-client';
export type { KeyCheck, KeyIdentity, OrganizationOption, UsageClientOptions, UsageEventInput } from './usage-client';
export { isMeteringError, MeteringError, MeteringUnavailableError } from './metering-error';
export { UsageJournal } from './usage-journal';
export type { JournalEntry } from './usage-journal';
export { DeferredDelivery } from './deferred-delivery';
export type { DeliveryReport } from './deferred-delivery';
export * from '../../contracts/src/error-codes';
export * from '../../contracts/src/tracking.types';
