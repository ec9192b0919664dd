import { afterEach, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageJournal } from './usage-journal';

const event = (key: string) => ({ kind: 'reserve' as const, organizationId: 'acme', input: { eventType: 'e', eventData: { n: 1 }, idempotencyKey: key }, occurredAt: '2026-12-01T10:00:00.000Z' });

describe('UsageJournal', () => {
  let dir: string;
  const fresh = () => {
    dir = mkdtempSync(join(tmpdir(), 'journal-spec-'));
    return join(dir, 'nested', 'journal.jsonl');
  };
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps what was added across a restart, and forgets what was done', () => {
    const path = fresh();
    const first = new UsageJournal(path);
    first.open();
    const a = first.add(event('a'));
    first.add(event('b'));
    first.done(a.id, 'delivered');
    first.close();
    const second = new UsageJournal(path);
    second.open();
    expect(second.entries().map((e) => e.input.idempotencyKey)).toEqual(['b']);
    second.close();
  });

  it('a retry under the same key keeps the first entry (and its date)', () => {
    const journal = new UsageJournal(fresh());
    journal.open();
    const first = journal.add(event('k'));
    const retry = journal.add({ ...event('k'), occurredAt: '2026-12-01T10:05:00.000Z' });
    expect(retry.id).toBe(first.id);
    expect(journal.entries()).toHaveLength(1);
    expect(journal.add({ ...event('k'), organizationId: 'other' }).id).not.toBe(first.id);
    journal.close();
  });

  it('skips a line torn by a crash and compacts the file once everything is delivered', () => {
    const path = fresh();
    const journal = new UsageJournal(path);
    journal.open();
    journal.add(event('a'));
    journal.close();
    appendFileSync(path, '{"op":"add","entry":{"id":"x","ki');
    const reopened = new UsageJournal(path);
    reopened.open();
    expect(reopened.entries().map((e) => e.input.idempotencyKey)).toEqual(['a']);
    reopened.done(reopened.entries()[0].id, 'delivered');
    expect(readFileSync(path, 'utf8')).toBe('');
    reopened.close();
  });

  it('keeps a refused entry with the service answer in the rejected file', () => {
    const path = fresh();
    const journal = new UsageJournal(path);
    journal.open();
    const entry = journal.add(event('a'));
    journal.done(entry.id, 'rejected', { statusCode: 402, error: 'CREDITS_EXHAUSTED' });
    const [line] = readFileSync(`${path}.rejected.jsonl`, 'utf8').trim().split('\n');
    expect(JSON.parse(line)).toMatchObject({ entry: { input: { idempotencyKey: 'a' } }, rejection: { statusCode: 402 } });
    journal.close();
  });

  it('refuses a journal that another live process holds, and takes over a stale lock', () => {
    const path = fresh();
    new UsageJournal(path).open(); // creates the folder
    rmSync(`${path}.lock`);
    // A live process: this test's parent (always there while the test runs).
    writeFileSync(`${path}.lock`, String(process.ppid));
    expect(() => new UsageJournal(path).open()).toThrow(/in use by process/);
    // A dead one: a child that has exited.
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' }).stdout.trim();
    writeFileSync(`${path}.lock`, dead);
    const journal = new UsageJournal(path);
    journal.open();
    expect(readFileSync(`${path}.lock`, 'utf8')).toBe(String(process.pid));
    journal.close();
    expect(existsSync(`${path}.lock`)).toBe(false);
  });
});
