import type { Api } from './api';
import type { StoredSession } from './session';

/** What every view gets: the API client, who is signed in, and a way to leave (cleanup on route change). */
export interface ViewContext {
  api: Api;
  session: StoredSession;
  main: HTMLElement;
  /** Registers work to undo when the route changes (charts, observers). */
  onLeave(cleanup: () => void): void;
}

/** Friendly text for an API failure. */
export function describeError(error: unknown): string {
  if (error && typeof error === 'object' && 'code' in error && 'message' in error) {
    const { code, message, status } = error as { code: string; message: string; status: number };
    if (status === 403) return `This key may not read this (${message}).`;
    return `${message} (${code})`;
  }
  return String(error);
}
