// Printing a table and writing bench/results/<name>-<timestamp>.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { ROOT, runContext } from './service.mjs';

/** `columns`: [{title, align?: 'left'|'right'}], rows: arrays of cells. */
export function printTable(title, columns, rows) {
  const cells = rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))));
  const widths = columns.map((c, i) => Math.max(c.title.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r) =>
    '  ' +
    r
      .map((c, i) => ((columns[i].align ?? (i === 0 ? 'left' : 'right')) === 'right' ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  console.log(`\n${title}`);
  console.log(line(columns.map((c) => c.title)));
  console.log('  ' + widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of cells) console.log(line(r));
}

export function machine() {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    memGb: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.type()} ${os.release()}`,
    note: 'service, PostgreSQL and the load generator share these cores; other work on the machine adds noise: compare ratios',
  };
}

/** Writes the run's JSON and returns its path. */
export function writeResults(name, data) {
  const dir = join(ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const path = join(dir, `${name}-${stamp}.json`);
  writeFileSync(path, JSON.stringify({ name, at: new Date().toISOString(), machine: { ...machine(), ...runContext }, ...data }, null, 2) + '\n');
  console.log(`\nresults: ${path}`);
  return path;
}

export const fmt = (n, digits = 0) => (n === null || n === undefined ? '-' : Number(n).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
export const verdict = (ok) => (ok ? 'reached' : 'NOT reached');
