import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Body, Controller, Get, HttpCode, INestApplication, Module, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { getDataSourceToken, InjectRepository, TypeOrmModule } from '@nestjs/typeorm';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { Column, DataSource, Entity, PrimaryColumn, Repository } from 'typeorm';
import type { Logger as TypeOrmLogger } from 'typeorm';
import { METERING_DATA_SOURCE } from '../src/database/metering-data-source.module';
import { ConfigChangeBus } from '../src/modules/config-cache/config-change-bus';
import type { ConfigChange } from '../src/modules/config-cache/config-change-bus';
import { JobRunner } from '../src/modules/jobs/job-runner.service';
import { OrganizationsService } from '../src/modules/organizations/organizations.service';
import { TrackUsage } from '../src/modules/tracking/track-usage.decorator';
import type { MeteredRequest } from '../src/modules/tracking/track-usage.decorator';
import { UsageTrackingAdminModule } from '../src/modules/tracking/usage-tracking-admin.module';
import { UsageTrackingModule } from '../src/modules/tracking/usage-tracking.module';
import { UsageSummaryService } from '../src/modules/usage/usage-summary.service';
import { adminQuery, assertTestDatabaseName, ON_POSTGRES, serverUrl } from './utils/test-database';

/**
 * Issue 14, section 2: the embedded module inside another Nest application. The host has a default TypeORM
 * data source of its own, with its own `organizations` table in `public`, and embeds
 * `UsageTrackingModule.forRoot({ databaseUrl, schema: 'metering' })` on the same (empty) database. One
 * decorated route, on Express (Nest's default) and on Fastify. The host's data source logs every query it
 * runs, so the test can prove metering never used it.
 */

/** The host's own table, deliberately named like metering's. */
@Entity({ name: 'organizations' })
class HostOrganization {
  @PrimaryColumn('text') id!: string;
  @Column('text') displayName!: string;
}

/** Every query the host's data source runs (metering's must never appear here). */
const hostQueries: string[] = [];
const recordingLogger: TypeOrmLogger = {
  logQuery: (query) => void hostQueries.push(query),
  logQueryError: () => undefined,
  logQuerySlow: () => undefined,
  logSchemaBuild: () => undefined,
  logMigration: () => undefined,
  log: () => undefined,
};

interface SummarizeBody {
  text?: string;
  complexity?: number;
  echo?: boolean;
  fail?: boolean;
}

@Controller('ai')
class HostAiController {
  calls = 0;

  constructor(
    @InjectRepository(HostOrganization) private readonly organizations: Repository<HostOrganization>,
    // The host's own default data source: injected as `DataSource` in a host module, it must stay the host's.
    private readonly dataSource: DataSource,
  ) {}

  @Post('summarize')
  @HttpCode(200)
  // The tenant comes from the host's own notion of the caller; a header stands in for its session here.
  @TrackUsage<{ body: SummarizeBody; headers: Record<string, unknown> }>('structuring_diagnose', {
    eventData: (req) => ({ complexity: req.body.complexity ?? 1, echo: req.body.echo === true }),
  })
  summarize(@Body() body: SummarizeBody) {
    this.calls++;
    if (body.fail) throw new Error('the model failed');
    return { summary: (body.text ?? '').slice(0, 100) };
  }

  @Get('calls')
  count() {
    return { calls: this.calls };
  }

  @Get('host-organizations')
  async hostOrganizations() {
    return { items: await this.organizations.find({ order: { id: 'ASC' } }), schema: (this.dataSource.options as { schema?: string }).schema ?? 'public' };
  }
}

@Module({ imports: [TypeOrmModule.forFeature([HostOrganization])], controllers: [HostAiController] })
class HostAiModule {}

const ADMIN_KEY = 'embedded-admin-key-0123456789';

/** The host's tenant: in a real application, its authenticated session's. */
function tenantOf(req: MeteredRequest): string | undefined {
  const tenant = req.headers['x-tenant'];
  return typeof tenant === 'string' ? tenant : undefined;
}

function hostModule(databaseUrl: string, withAdmin: boolean) {
  @Module({
    imports: [
      // Before the host's own TypeORM: `app.get(DataSource)` (non-strict) answers the last module
      // registered with that token, and the host's bootstrap code expects its own.
      UsageTrackingModule.forRoot({
        databaseUrl, // may be the host's own database: metering keeps to its schema
        schema: 'metering', // the default
        seed: true, // load the 15 event types and 4 plans (the default is not to)
        jobs: false, // registered, not started (the default starts them)
        // Who pays: the host's own notion of the caller (its session; a header stands in for it here).
        organizationId: (req) => tenantOf(req),
      }),
      TypeOrmModule.forRoot({ type: 'postgres', url: databaseUrl, entities: [HostOrganization], synchronize: true, logging: ['query'], logger: recordingLogger }),
      ...(withAdmin ? [UsageTrackingAdminModule.forRoot({ adminApiKey: ADMIN_KEY })] : []),
      HostAiModule,
    ],
  })
  class HostAppModule {}
  return HostAppModule;
}

async function startHost(platform: 'express' | 'fastify', databaseUrl: string, withAdmin = false): Promise<INestApplication> {
  const module = hostModule(databaseUrl, withAdmin);
  const app = platform === 'fastify' ? await NestFactory.create(module, new FastifyAdapter(), { logger: false }) : await NestFactory.create(module, { logger: false });
  await app.init();
  if (platform === 'fastify') await (app.getHttpAdapter().getInstance() as { ready(): Promise<unknown> }).ready();
  return app;
}

describe("docs/embedded-module.md's code", () => {
  it('is this suite’s, as run here', () => {
    const page = readFileSync(join(process.cwd(), 'docs', 'embedded-module.md'), 'utf8');
    const blocks = [...page.matchAll(/^```ts\n([\s\S]*?)^```/gm)].map((m) => m[1]);
    expect(blocks.length).toBeGreaterThanOrEqual(2);
    const source = readFileSync(join(process.cwd(), 'test', 'embedded-module.e2e-spec.ts'), 'utf8');
    for (const block of blocks) {
      for (const chunk of block.split(/^\s*\/\/ …\n/m)) expect(source).toContain(chunk);
    }
  });
});

if (!ON_POSTGRES) {
  describe('UsageTrackingModule embedded in another Nest application', () => {
    // The embedded module keeps its tables in a schema of its own, through each connection's search_path:
    // PGlite's socket server takes no startup options, so this needs a PostgreSQL server.
    it.skip('needs PostgreSQL: run with DATABASE_URL (the embedded module refuses PGlite)', () => undefined);
  });
} else {
  describe('UsageTrackingModule embedded in another Nest application', () => {
    const name = `metering_embedded_test_${randomBytes(4).toString('hex')}`;
    let databaseUrl: string;

    const sql = async <T>(query: string, params: unknown[] = []): Promise<T[]> => {
      const { Client } = await import('pg');
      const client = new Client({ connectionString: databaseUrl });
      await client.connect();
      try {
        return (await client.query(query, params)).rows as T[];
      } finally {
        await client.end();
      }
    };

    beforeAll(async () => {
      assertTestDatabaseName(name);
      // An empty database (not the test template): the host creates its tables, metering its schema.
      await adminQuery(`CREATE DATABASE ${name}`);
      databaseUrl = serverUrl(name);
    });

    afterAll(async () => {
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    });

    for (const platform of ['express', 'fastify'] as const) {
      describe(`on ${platform}`, () => {
        let app: INestApplication;
        const http = () => request(app.getHttpServer());
        const org = `acme-${platform}`;
        const summarize = (body: SummarizeBody, tenant: string | null = org) => {
          const req = http().post('/ai/summarize').set('content-type', 'application/json');
          return (tenant ? req.set('x-tenant', tenant) : req).send(body);
        };
        const calls = async () => ((await http().get('/ai/calls')).body as { calls: number }).calls;
        const used = async () => (await app.get(UsageSummaryService).summary(org)).used;

        beforeAll(async () => {
          app = await startHost(platform, databaseUrl);
          const hostDataSource = app.get<DataSource>(getDataSourceToken());
          expect(hostDataSource.options).toMatchObject({ type: 'postgres', synchronize: true });
          expect((hostDataSource.options as { schema?: string }).schema).toBeUndefined();
          await hostDataSource.query(`INSERT INTO organizations (id, "displayName") VALUES ($1, 'The host''s own row') ON CONFLICT (id) DO NOTHING`, [`host-${platform}`]);
          // Metering's organizations are its own (here through its service; the admin module is the other way).
          await app.get(OrganizationsService).create({ id: org, name: 'Acme', plan: 'free' } as never);
        });

        afterAll(async () => {
          await app?.close();
        });

        it('charges the formula’s credits, with usage in the body and the credit headers, through metering’s own data source', async () => {
          hostQueries.length = 0;
          const res = await summarize({ text: 'a long text', complexity: 2, echo: true });
          expect(res.status).toBe(200);
          // SPEC formula: structuring_diagnose is 10 base credits x complexity 2.0 x 1.25 for echo = 25.
          expect(res.body).toMatchObject({ summary: 'a long text', usage: { eventType: 'structuring_diagnose', creditsConsumed: 25, remainingCredits: 75, mode: 'sync' } });
          expect(res.headers['x-credits-consumed']).toBe('25');
          expect(res.headers['x-credits-remaining']).toBe('75');
          // Not one query of the reservation and its commit went through the host's default data source.
          expect(hostQueries).toEqual([]);
          const [event] = await sql<{ organization_id: string }>(`SELECT organization_id FROM metering.usage_events WHERE organization_id = $1`, [org]);
          expect(event).toBeDefined();
          expect(await used()).toBe(25);
        });

        it('answers 402 with the spec’s body before the handler runs when the credits do not fit', async () => {
          // 25 used: three more fill the 100 credits of the free plan (a hard cap).
          for (let i = 0; i < 3; i++) expect((await summarize({ complexity: 2, echo: true })).status).toBe(200);
          const before = await calls();
          const res = await summarize({ complexity: 2, echo: true });
          expect(res.status).toBe(402);
          expect(res.body).toMatchObject({ statusCode: 402, error: 'CREDITS_EXHAUSTED', message: expect.any(String), details: expect.any(Object) });
          expect(await calls()).toBe(before);
          expect(await used()).toBe(100);
        });

        it('charges nothing when the handler throws: the hold is released and the handler’s own error goes out', async () => {
          const other = `${org}-fails`;
          await app.get(OrganizationsService).create({ id: other, name: 'Fails', plan: 'free' } as never);
          const before = await calls();
          const res = await summarize({ complexity: 2, fail: true }, other);
          // The host's own error handling: Nest answers an unknown Error with 500.
          expect(res.status).toBe(500);
          expect(await calls()).toBe(before + 1);
          expect((await app.get(UsageSummaryService).summary(other)).used).toBe(0);
          const [hold] = await sql<{ status: string }>(`SELECT status FROM metering.reservations WHERE organization_id = $1`, [other]);
          expect(hold.status).toBe('released');
        });

        it('maps its other errors to their status: 404 for an unknown organization, 400 when the route names none', async () => {
          const before = await calls();
          const unknown = await summarize({ complexity: 1 }, 'nobody');
          expect(unknown.status).toBe(404);
          expect(unknown.body).toMatchObject({ statusCode: 404, error: 'ORGANIZATION_NOT_FOUND' });
          const unnamed = await summarize({ complexity: 1 }, null);
          expect(unnamed.status).toBe(400);
          expect(unnamed.body).toMatchObject({ statusCode: 400, error: 'VALIDATION_FAILED' });
          // X-Organization-Id is this service's admin convention, never trusted from a host's caller.
          const named = await http().post('/ai/summarize').set('x-organization-id', org).send({ complexity: 1 });
          expect(named.status).toBe(400);
          expect(await calls()).toBe(before);
        });

        it('leaves the host’s organizations table and its default data source alone, and keeps its own objects in its schema', async () => {
          const res = await http().get('/ai/host-organizations');
          expect(res.status).toBe(200);
          expect(res.body.schema).toBe('public');
          expect((res.body.items as HostOrganization[]).map((o) => o.id)).toContain(`host-${platform}`);
          const hostColumns = await sql<{ column_name: string }>(`SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'organizations' ORDER BY column_name`);
          expect(hostColumns.map((c) => c.column_name)).toEqual(['displayName', 'id']);
          const hostRows = await sql<{ id: string }>(`SELECT id FROM public.organizations`);
          expect(hostRows.every((r) => r.id.startsWith('host-'))).toBe(true);
          // Metering's tables, functions and migrations table are all in `metering`, none in `public`.
          const publicTables = await sql<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`);
          expect(publicTables.map((t) => t.table_name)).toEqual(['organizations']);
          const functions = await sql<{ schema: string }>(`SELECT DISTINCT n.nspname AS schema FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.proname IN ('consume_credits', 'reserve_credits', 'ensure_usage_events_partition')`);
          expect(functions).toEqual([{ schema: 'metering' }]);
          const [migrations] = await sql<{ n: string }>(`SELECT count(*) AS n FROM metering.schema_migrations`);
          expect(Number(migrations.n)).toBeGreaterThan(0);
          expect(app.get<DataSource>(getDataSourceToken(METERING_DATA_SOURCE)).options).toMatchObject({ schema: 'metering' });
          // An operator's session on `public` writing metering's ingest queue by hand: the queue's trigger keeps
          // the totals in `metering` (its own search_path), not in whatever the session's path names.
          await sql(`INSERT INTO metering.ingest_queue (id, organization_id, payload, bytes, enqueued_at) VALUES ('op-${platform}', 'op-org', '{}', 7, now())`);
          await sql(`DELETE FROM metering.ingest_queue WHERE id = 'op-${platform}'`);
          const [queue] = await sql<{ n: number; totals: number }>(`SELECT (SELECT count(*) FROM metering.ingest_queue)::int AS n, (SELECT sum(messages) FROM metering.ingest_queue_totals)::int AS totals`);
          expect(queue.totals).toBe(queue.n);
        });

        it('mounts none of the service’s routes', async () => {
          for (const path of ['/api/admin/organizations', '/api/organizations/acme/usage', '/api/plans', '/metrics', '/health', '/api/demo/track-usage']) {
            expect((await http().get(path)).status).toBe(404);
          }
          expect((await http().post('/api/admin/organizations').send({ id: 'evil', name: 'Evil', plan: 'free' })).status).toBe(404);
        });
      });
    }

    describe('the opt-in admin API', () => {
      let app: INestApplication;
      const http = () => request(app.getHttpServer());

      beforeAll(async () => {
        app = await startHost('express', databaseUrl, true);
      });

      afterAll(async () => {
        await app?.close();
      });

      it('is guarded by its own admin key, validates its input and answers the spec’s errors', async () => {
        const body = { id: 'admin-made', name: 'Admin made', plan: 'free' };
        expect((await http().post('/api/admin/organizations').send(body)).status).toBe(401);
        const wrong = await http().post('/api/admin/organizations').set('authorization', 'Bearer dev-admin-key').send(body);
        expect(wrong.status).toBe(401);
        expect(wrong.body).toMatchObject({ statusCode: 401, error: 'UNAUTHORIZED' });
        const bad = await http().post('/api/admin/organizations').set('authorization', `Bearer ${ADMIN_KEY}`).send({ id: 'x', plan: 'free', extra: 1 });
        expect(bad.status).toBe(400);
        expect(bad.body).toMatchObject({ statusCode: 400, error: 'VALIDATION_FAILED' });
        const made = await http().post('/api/admin/organizations').set('authorization', `Bearer ${ADMIN_KEY}`).send(body);
        expect(made.status).toBe(201);
        const missing = await http().get('/api/admin/organizations/nobody').set('authorization', `Bearer ${ADMIN_KEY}`);
        expect(missing.status).toBe(404);
        expect(missing.body).toMatchObject({ statusCode: 404, error: 'ORGANIZATION_NOT_FOUND' });
        // The host's own routes are not behind metering's admin key.
        expect((await http().get('/ai/calls')).status).toBe(200);
        // The metered route still charges the organization the admin API made.
        const charged = await http().post('/ai/summarize').set('x-tenant', 'admin-made').send({ complexity: 1 });
        expect(charged.status).toBe(200);
        expect(charged.headers['x-credits-consumed']).toBe('10');
      });
    });

    describe('jobs, advisory locks and LISTEN/NOTIFY in the schema', () => {
      let first: INestApplication;
      let second: INestApplication;

      beforeAll(async () => {
        first = await startHost('express', databaseUrl);
        @Module({ imports: [UsageTrackingModule.forRoot({ databaseUrl, schema: 'metering', jobs: false })] })
        class SecondInstance {}
        second = await NestFactory.create(SecondInstance, { logger: false });
        await second.init();
      });

      afterAll(async () => {
        await second?.close();
        await first?.close();
      });

      it('runs its jobs on its own tables, under advisory locks of its own schema', async () => {
        const runner = first.get(JobRunner);
        const partitions = await runner.run('usage-partitions', 'manual');
        expect(partitions).toMatchObject({ status: 'succeeded' });
        const made = await sql<{ schema: string }>(`SELECT DISTINCT n.nspname AS schema FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname LIKE 'usage_events_2%'`);
        expect(made).toEqual([{ schema: 'metering' }]);
        expect(await runner.run('reservation-expiry', 'manual')).toMatchObject({ status: 'succeeded' });
        const [recorded] = await sql<{ n: string }>(`SELECT count(*) AS n FROM metering.job_runs WHERE job_name = 'usage-partitions'`);
        expect(Number(recorded.n)).toBe(1);

        const { Client } = await import('pg');
        const holder = new Client({ connectionString: databaseUrl });
        await holder.connect();
        try {
          // The standalone service's lock on the same job name (another schema's metering) does not stop it…
          await holder.query(`SELECT pg_advisory_lock(7301003, hashtext('usage-partitions'))`);
          expect(await runner.run('usage-partitions', 'manual')).toMatchObject({ status: 'succeeded' });
          // …its own does: another instance of this schema's metering is running the job.
          await holder.query(`SELECT pg_advisory_lock(7301003, hashtext('metering.usage-partitions'))`);
          expect(await second.get(JobRunner).run('usage-partitions', 'manual')).toBeNull();
        } finally {
          await holder.end();
        }
      });

      it('carries cache invalidations to its other instances over LISTEN/NOTIFY', async () => {
        const sender = first.get(ConfigChangeBus);
        const receiver = second.get(ConfigChangeBus);
        expect([sender.transport, receiver.transport]).toEqual(['postgres', 'postgres']);
        const received = new Promise<ConfigChange>((resolve) => receiver.onChange(resolve));
        await sender.publish({ kind: 'event', key: 'structuring_diagnose' } as Omit<ConfigChange, 'origin'>);
        await expect(received).resolves.toMatchObject({ kind: 'event', key: 'structuring_diagnose' });
      });
    });

    it('seeds the catalogue only when asked: another schema without `seed` has no event types', async () => {
      @Module({ imports: [UsageTrackingModule.forRoot({ databaseUrl, schema: 'metering_bare', jobs: false })] })
      class BareHost {}
      const app = await NestFactory.create(BareHost, { logger: false });
      await app.init();
      try {
        const [events] = await sql<{ n: string }>(`SELECT count(*) AS n FROM metering_bare.event_definitions`);
        expect(Number(events.n)).toBe(0);
        const [seeded] = await sql<{ n: string }>(`SELECT count(*) AS n FROM metering.event_definitions`);
        expect(Number(seeded.n)).toBeGreaterThan(0);
      } finally {
        await app.close();
      }
    });
  });
}
