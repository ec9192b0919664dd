import type { MeteredRequest } from './track-usage.types';

/** Token of the embedded module's options the interceptor reads (absent in this service). */
export const EMBEDDED_TRACKING = Symbol('EMBEDDED_TRACKING');

/** What the interceptor needs to know when it runs inside another application. */
export interface EmbeddedTracking {
  /** The organization to charge, for routes whose decorator does not name it. */
  organizationId?: (request: MeteredRequest) => string | undefined;
}
