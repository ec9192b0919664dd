export * from './error-codes';
export * from './tracking.types';
