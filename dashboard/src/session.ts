// The pasted key lives in sessionStorage only (gone when the tab closes; never a cookie).
import type { Session } from './types';

const STORAGE_KEY = 'metering.dashboard';

export type StoredSession = Session & { key: string };

export function loadSession(): StoredSession | null {
  try {
    const raw = sessionStorage.getItem(STORAGE_KEY);
    return raw ? (JSON.parse(raw) as StoredSession) : null;
  } catch {
    return null;
  }
}

export function saveSession(session: StoredSession): void {
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
}

export function clearSession(): void {
  sessionStorage.removeItem(STORAGE_KEY);
}
