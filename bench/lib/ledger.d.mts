// Types of ledger.mjs for the TypeScript tests that run its checks.
export interface LedgerCheck {
  name: string;
  ok: boolean;
  rows: unknown[];
}
export function checkLedger(db: { query(sql: string): Promise<{ rows: unknown[] }> } | null, options?: { skip?: string[] }): Promise<{ ok: boolean; skipped?: boolean; checks: LedgerCheck[] }>;
export function ledgerTotals(db: unknown): Promise<Record<string, unknown>>;
export function backendPids(db: unknown): () => Promise<number[]>;
