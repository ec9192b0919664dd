#!/usr/bin/env node
// Builds the dashboard into dist/dashboard (or the folder given as the first argument): bundles
// src/main.ts with uPlot into app.js and src/styles.css with uPlot's stylesheet into styles.css, copies
// index.html. No CDN: the service serves these files itself (src/modules/dashboard).
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const outDir = resolve(process.argv[2] ?? join(here, '..', 'dist', 'dashboard'));

rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
const started = Date.now();
await build({
  entryPoints: { app: join(here, 'src', 'main.ts'), styles: join(here, 'src', 'styles.css') },
  outdir: outDir,
  entryNames: '[name]',
  bundle: true,
  minify: true,
  sourcemap: true,
  format: 'iife',
  target: ['chrome110', 'firefox110', 'safari16'],
  legalComments: 'linked',
  logLevel: 'warning',
});
copyFileSync(join(here, 'index.html'), join(outDir, 'index.html'));
console.log(`dashboard built into ${outDir} in ${Date.now() - started} ms`);
