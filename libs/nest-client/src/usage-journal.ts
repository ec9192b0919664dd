import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { UsageEventInput } from './usage-client';

/**
 * An event the service must still be told about. `reserve`: a synchronous `@TrackUsage` event whose reserve
 * or commit could not reach the service (delivered as reserve + commit under the same idempotency key, so
 * a hold that did land is found and committed, never doubled). `track`: an asynchronous one.
 */
export interface JournalEntry {
  id: string;
  kind: 'reserve' | 'track';
  organizationId?: string;
  input: UsageEventInput & { idempotencyKey: string };
  /** When the work ran (the event is dated then, so it lands in the right period). */
  occurredAt: string;
  /** Set when the hold is known to exist (the reserve answered, the commit did not). */
  reservationId?: string;
  /** Delivery attempts that found the service unreachable (for logs). */
  attempts: number;
}

type Line = { op: 'add'; entry: JournalEntry } | { op: 'done'; id: string; outcome: 'delivered' | 'rejected' };

/**
 * The client's durable outbox: a JSON-lines file, appended and fsync'ed before the host's response leaves
 * (so an acknowledged, deferred event survives a crash of the host), replayed on start, compacted when
 * empty. Refused entries are kept in `<path>.rejected.jsonl` with the service's answer.
 *
 * One process per file: a lock file (`<path>.lock`, holding the pid) refuses a second live process; a stale
 * lock (its process is gone) is taken over.
 */
export class UsageJournal {
  private readonly pending = new Map<string, JournalEntry>();
  private fd?: number;

  constructor(readonly path: string) {}

  open(): void {
    if (this.fd !== undefined) return;
    mkdirSync(dirname(this.path), { recursive: true });
    this.lock();
    if (existsSync(this.path)) {
      for (const raw of readFileSync(this.path, 'utf8').split('\n')) {
        if (!raw.trim()) continue;
        let line: Line;
        try {
          line = JSON.parse(raw) as Line;
        } catch {
          continue; // a line torn by a crash mid-write: it was never acknowledged
        }
        if (line.op === 'add') this.pending.set(line.entry.id, line.entry);
        else this.pending.delete(line.id);
      }
    }
    // Rewrite what is still pending: drops delivered lines and any torn tail.
    writeFileSync(this.path, [...this.pending.values()].map((entry) => JSON.stringify({ op: 'add', entry }) + '\n').join(''));
    this.fd = openSync(this.path, 'a');
  }

  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
    rmSync(`${this.path}.lock`, { force: true });
  }

  /**
   * Durable when it returns. A retry of a request still waiting here (same organization, same idempotency
   * key) is the same work: it keeps the first entry, so the event keeps the first attempt's date and one
   * request hash (a second date under one key would be 409 IDEMPOTENCY_CONFLICT at the service).
   */
  add(entry: Omit<JournalEntry, 'id' | 'attempts'>): JournalEntry {
    const waiting = [...this.pending.values()].find((e) => e.organizationId === entry.organizationId && e.input.idempotencyKey === entry.input.idempotencyKey);
    if (waiting) return waiting;
    const full: JournalEntry = { ...entry, id: randomUUID(), attempts: 0 };
    this.write({ op: 'add', entry: full });
    this.pending.set(full.id, full);
    return full;
  }

  done(id: string, outcome: 'delivered' | 'rejected', rejection?: unknown): void {
    const entry = this.pending.get(id);
    if (!entry) return;
    if (outcome === 'rejected') writeFileSync(`${this.path}.rejected.jsonl`, JSON.stringify({ entry, rejection, at: new Date().toISOString() }) + '\n', { flag: 'a' });
    this.write({ op: 'done', id, outcome });
    this.pending.delete(id);
    if (this.pending.size === 0 && this.fd !== undefined) {
      // Nothing left: start the file afresh instead of letting it grow forever.
      closeSync(this.fd);
      writeFileSync(this.path, '');
      this.fd = openSync(this.path, 'a');
    }
  }

  entries(): JournalEntry[] {
    return [...this.pending.values()];
  }

  get size(): number {
    return this.pending.size;
  }

  private write(line: Line): void {
    if (this.fd === undefined) this.open();
    writeSync(this.fd!, JSON.stringify(line) + '\n');
    fsyncSync(this.fd!);
  }

  private lock(): void {
    const lockPath = `${this.path}.lock`;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        writeFileSync(lockPath, String(process.pid), { flag: 'wx' });
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const holder = Number(readFileSync(lockPath, 'utf8'));
        if (holder && holder !== process.pid && isAlive(holder)) {
          throw new Error(`The usage journal ${this.path} is in use by process ${holder}: give each process of the application its own journalPath`, { cause: error });
        }
        rmSync(lockPath, { force: true });
      }
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
