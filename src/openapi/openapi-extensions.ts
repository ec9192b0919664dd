/**
 * Marks that decorators leave on operations for the document builder (src/openapi/openapi-document.ts),
 * which reads and removes them. A file of their own so decorators import no document code.
 */
/** A `@Public()` operation: the builder gives it no security requirement. */
export const PUBLIC_EXTENSION = 'x-public';
/** A `@TrackUsage` operation (its value is the event type): its 200 is the handler's result plus `usage`. */
export const METERED_EXTENSION = 'x-metered-event';
