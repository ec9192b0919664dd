export * from './error-codes';
export * from './tracking.types';
export * from './usage-page.types';
export * from './idempotent-replay';
export * from './metered-stream';
