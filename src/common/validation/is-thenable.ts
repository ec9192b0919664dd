/**
 * Whether a value is a promise (anything with a `then`): for the hot request path, which answers a plain value
 * when it has one and awaits only what is really pending (an await costs a promise and a tick per request).
 */
export function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function';
}
