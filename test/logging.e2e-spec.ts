import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { LoggerService } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Writable } from 'node:stream';
import request from 'supertest';
import { createApp } from '../src/app.setup';
import { ADMIN, ADMIN_KEY, testConfig } from './utils/test-app';
import { createTestDatabase, TestDatabase } from './utils/test-database';

/** A host's own logger: records what it is given. */
class RecordingLogger implements LoggerService {
  readonly lines: Array<{ level: string; message: string; context?: string }> = [];
  log(message: unknown, context?: string): void {
    this.lines.push({ level: 'log', message: String(message), context });
  }
  error(message: unknown, _trace?: string, context?: string): void {
    this.lines.push({ level: 'error', message: String(message), context });
  }
  warn(message: unknown, context?: string): void {
    this.lines.push({ level: 'warn', message: String(message), context });
  }
  debug(message: unknown, context?: string): void {
    this.lines.push({ level: 'debug', message: String(message), context });
  }
  verbose(message: unknown, context?: string): void {
    this.lines.push({ level: 'verbose', message: String(message), context });
  }
}

describe('logging: a Nest LoggerService a host can replace', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });

  it("a host's LoggerService gets Nest's logs, the service's own and the request logs, never a key", async () => {
    const logger = new RecordingLogger();
    const app: NestFastifyApplication = await createApp({ config: testConfig(database, { adminApiKey: ADMIN_KEY }), logger });
    try {
      await request(app.getHttpServer()).post('/api/admin/jobs/usage-partitions/run').set(ADMIN).send({}).expect(200);
      await request(app.getHttpServer()).get('/health').set('Authorization', 'Bearer nxk_not-a-real-key-but-secret').expect(200);
    } finally {
      await app.close();
    }
    const messages = logger.lines.map((l) => `${l.context ?? ''}: ${l.message}`);
    expect(messages).toContainEqual(expect.stringMatching(/^NestApplication: Nest application successfully started/));
    expect(messages).toContainEqual(expect.stringMatching(/^Jobs: usage-partitions \(manual\): \d+ rows/));
    expect(messages).toContainEqual(expect.stringMatching(/^HTTP: \[[\w-]+\] GET \/health incoming request/));
    expect(messages).toContainEqual(expect.stringMatching(/^HTTP: \[[\w-]+\] 200 [\d.]+ ms request completed/));
    const all = messages.join('\n');
    expect(all).not.toContain(ADMIN_KEY);
    expect(all).not.toContain('nxk_not-a-real-key-but-secret');
  });

  it('the default logger writes JSON lines with secrets redacted', async () => {
    const chunks: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        chunks.push(chunk.toString());
        done();
      },
    });
    const app = await createApp({ config: testConfig(database, { logLevel: 'info' }), logDestination: destination as never });
    try {
      await request(app.getHttpServer()).get('/health').set('Authorization', 'Bearer nxk_not-a-real-key-but-secret').expect(200);
    } finally {
      await app.close();
    }
    const lines = chunks.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.find((l) => l.msg === 'incoming request')).toMatchObject({ service: 'credit-metering', level: 30, req: { method: 'GET', url: '/health' } });
    expect(lines.find((l) => l.context === 'NestApplication')).toMatchObject({ msg: 'Nest application successfully started' });
    expect(chunks.join('')).not.toContain('nxk_not-a-real-key-but-secret');
  });

  it('a token sent by mistake in a query string never reaches a log line (JSON logs and a host logger)', async () => {
    const portal = `nxp_${'Q'.repeat(43)}`;
    const key = `nxk_${'z'.repeat(40)}`;
    const urls = [`/health?token=${portal}`, `/api/plans?apiKey=not-prefixed-secret-1`, `/api/plans?q=${key}`, `/api/organizations/o/usage?portal=${portal}&days=7`];
    const chunks: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        chunks.push(chunk.toString());
        done();
      },
    });
    const host = new RecordingLogger();
    for (const app of [await createApp({ config: testConfig(database, { logLevel: 'info' }), logDestination: destination as never }), await createApp({ config: testConfig(database, { adminApiKey: ADMIN_KEY }), logger: host })]) {
      try {
        for (const url of urls) await request(app.getHttpServer()).get(url);
      } finally {
        await app.close();
      }
    }
    const json = chunks.join('');
    const hosted = host.lines.map((l) => l.message).join('\n');
    for (const logged of [json, hosted]) {
      expect(logged).toContain('token=[redacted]');
      expect(logged).toContain('portal=[redacted]&days=7');
      for (const secret of [portal, portal.slice(4), key, key.slice(4), 'not-prefixed-secret-1']) expect(logged).not.toContain(secret);
    }
    const incoming = json.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { msg?: string; req?: { url?: string } }).filter((l) => l.msg === 'incoming request');
    expect(incoming.map((l) => l.req?.url)).toEqual(['/health?token=[redacted]', '/api/plans?apiKey=[redacted]', '/api/plans?q=[redacted]', '/api/organizations/o/usage?portal=[redacted]&days=7']);
  }, 180_000); // two apps, one after the other, on a shared machine
});
