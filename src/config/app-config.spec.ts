import { describe, expect, it } from '@jest/globals';
import { ConfigValidationError, DEV_ADMIN_API_KEY, loadConfig } from './app-config';

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 5000,
      databaseUrl: undefined,
      dataDir: './data',
      redisUrl: undefined,
      adminApiKey: DEV_ADMIN_API_KEY,
      adminApiKeyIsDefault: true,
      nodeEnv: 'development',
      configCacheTtlSeconds: 300,
      logLevel: 'info',
    });
  });

  it('reads every variable', () => {
    const config = loadConfig({
      PORT: '8080',
      DATABASE_URL: 'postgres://u:p@db:5432/x',
      DATA_DIR: '/tmp/x',
      REDIS_URL: 'redis://127.0.0.1:6379',
      ADMIN_API_KEY: 'a-very-long-secret',
      NODE_ENV: 'production',
      CONFIG_CACHE_TTL_SECONDS: '60',
      LOG_LEVEL: 'warn',
    });
    expect(config).toMatchObject({
      port: 8080,
      databaseUrl: 'postgres://u:p@db:5432/x',
      dataDir: '/tmp/x',
      redisUrl: 'redis://127.0.0.1:6379',
      adminApiKey: 'a-very-long-secret',
      adminApiKeyIsDefault: false,
      nodeEnv: 'production',
      configCacheTtlSeconds: 60,
      logLevel: 'warn',
    });
  });

  it('reads the security variables (rate limits, key cache, membership) with their defaults', () => {
    expect(loadConfig({})).toMatchObject({ rateLimitPerMinute: 100_000, rateLimitAdminPerMinute: 0, apiKeyCacheTtlSeconds: 5, strictMembership: true });
    expect(loadConfig({ RATE_LIMIT_PER_MINUTE: '120', RATE_LIMIT_ADMIN_PER_MINUTE: '6000', API_KEY_CACHE_TTL_SECONDS: '0', STRICT_MEMBERSHIP: 'false' })).toMatchObject({
      rateLimitPerMinute: 120,
      rateLimitAdminPerMinute: 6000,
      apiKeyCacheTtlSeconds: 0,
      strictMembership: false,
    });
    expect(() => loadConfig({ RATE_LIMIT_PER_MINUTE: '-1', API_KEY_CACHE_TTL_SECONDS: '9999', STRICT_MEMBERSHIP: 'maybe' })).toThrow(
      /RATE_LIMIT_PER_MINUTE[\s\S]*API_KEY_CACHE_TTL_SECONDS[\s\S]*STRICT_MEMBERSHIP/,
    );
  });

  it('refuses production without ADMIN_API_KEY', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/ADMIN_API_KEY is required/);
  });

  it('reports one message per bad variable and never echoes a connection string', () => {
    let error: unknown;
    try {
      loadConfig({
        PORT: 'eighty',
        DATABASE_URL: 'mysql://secret-password@x/y',
        REDIS_URL: 'not a url',
        NODE_ENV: 'staging',
        CONFIG_CACHE_TTL_SECONDS: '0',
        LOG_LEVEL: 'loud',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigValidationError);
    const problems = (error as ConfigValidationError).problems;
    expect(problems).toHaveLength(6);
    expect(problems.join('\n')).toMatch(/PORT/);
    expect(problems.join('\n')).toMatch(/DATABASE_URL must start with postgres:/);
    expect(problems.join('\n')).not.toMatch(/secret-password/);
    expect(problems.join('\n')).toMatch(/REDIS_URL is not a valid URL/);
    expect(problems.join('\n')).toMatch(/NODE_ENV/);
    expect(problems.join('\n')).toMatch(/CONFIG_CACHE_TTL_SECONDS/);
    expect(problems.join('\n')).toMatch(/LOG_LEVEL/);
  });
});

describe('loadConfig: scheduled jobs', () => {
  it('defaults: a 60-minute grace, jobs on (off under NODE_ENV=test), the documented schedules', () => {
    expect(loadConfig({})).toMatchObject({
      periodCloseGraceMinutes: 60,
      jobsEnabled: true,
      jobSchedules: { 'period-close': '5 * * * *', 'rollup-refresh': '30 0 * * *', 'ledger-reconciliation': '45 2 * * *', 'usage-partitions': '10 0 * * *' },
    });
    expect(loadConfig({ NODE_ENV: 'test' }).jobsEnabled).toBe(false);
  });

  it('reads and validates them', () => {
    expect(loadConfig({ PERIOD_CLOSE_GRACE_MINUTES: '0', JOBS_ENABLED: 'false', JOB_PERIOD_CLOSE_CRON: '*/5 * * * *', NODE_ENV: 'test' })).toMatchObject({
      periodCloseGraceMinutes: 0,
      jobsEnabled: false,
      jobSchedules: { 'period-close': '*/5 * * * *' },
    });
    expect(loadConfig({ NODE_ENV: 'test', JOBS_ENABLED: 'true' }).jobsEnabled).toBe(true);
    let error: unknown;
    try {
      loadConfig({ PERIOD_CLOSE_GRACE_MINUTES: '-1', JOBS_ENABLED: 'maybe', JOB_ROLLUP_REFRESH_CRON: 'every day', JOB_PARTITIONS_CRON: '0 0 * * * * *' });
    } catch (e) {
      error = e;
    }
    expect((error as ConfigValidationError).problems).toEqual([
      expect.stringMatching(/^PERIOD_CLOSE_GRACE_MINUTES must be a whole number/),
      expect.stringMatching(/^JOBS_ENABLED must be true or false/),
      expect.stringMatching(/^JOB_ROLLUP_REFRESH_CRON must be a cron expression/),
      expect.stringMatching(/^JOB_PARTITIONS_CRON must be a cron expression/),
    ]);
  });
});

describe('loadConfig: schedules checked by the scheduler\'s own parser, cadences of the frequent jobs', () => {
  it('defaults: the sweep every 15 s, webhook delivery every 2 s, as seconds-field cron expressions', () => {
    expect(loadConfig({}).jobSchedules).toMatchObject({ 'reservation-expiry': '*/15 * * * * *', 'webhook-delivery': '*/2 * * * * *' });
  });

  it.each([
    ['1', '*/1 * * * * *'],
    ['30', '*/30 * * * * *'],
    ['60', '0 * * * * *'],
  ])('JOB_WEBHOOK_DELIVERY_SECONDS=%s becomes "%s"', (seconds, cron) => {
    expect(loadConfig({ JOB_WEBHOOK_DELIVERY_SECONDS: seconds }).jobSchedules['webhook-delivery']).toBe(cron);
  });

  it.each([
    ['JOB_PERIOD_CLOSE_CRON', '61 * * * *', /Field value \(61\) is out of range/],
    ['JOB_PERIOD_CLOSE_CRON', '* * * 13 *', /out of range/],
    ['JOB_ROLLUP_REFRESH_CRON', '* * *', /has 3 fields/],
    ['JOB_RESERVATION_EXPIRY_SECONDS', '7', /divides a minute/],
    ['JOB_RESERVATION_EXPIRY_SECONDS', '0', /divides a minute/],
    ['JOB_WEBHOOK_DELIVERY_SECONDS', '1.5', /divides a minute/],
  ])('%s="%s" is refused with a message naming it', (variable, value, reason) => {
    let error: unknown;
    try {
      loadConfig({ [variable]: value });
    } catch (e) {
      error = e;
    }
    expect((error as ConfigValidationError).problems).toEqual([expect.stringContaining(variable)]);
    expect((error as ConfigValidationError).problems[0]).toMatch(reason);
  });

  it('accepts 6-field (seconds) expressions and ranges, steps and names', () => {
    expect(loadConfig({ JOB_PERIOD_CLOSE_CRON: '0 */10 * * * *', JOB_PARTITIONS_CRON: '0 1 * * mon-fri' }).jobSchedules).toMatchObject({ 'period-close': '0 */10 * * * *', 'usage-partitions': '0 1 * * mon-fri' });
  });
});

describe('load shedding and proxy settings', () => {
  it('defaults to 256 requests in flight and not trusting X-Forwarded-For', () => {
    expect(loadConfig({})).toMatchObject({ maxInFlightRequests: 256, trustProxy: false });
  });

  it('reads them, and refuses bad values', () => {
    expect(loadConfig({ MAX_IN_FLIGHT_REQUESTS: '0', TRUST_PROXY: 'true' })).toMatchObject({ maxInFlightRequests: 0, trustProxy: true });
    expect(() => loadConfig({ MAX_IN_FLIGHT_REQUESTS: '-1' })).toThrow(/MAX_IN_FLIGHT_REQUESTS/);
    expect(() => loadConfig({ TRUST_PROXY: 'maybe' })).toThrow(/TRUST_PROXY/);
  });

  it('TRACKING_GROUP_LANES: 2 by default, 1 to 64, anything else refused', () => {
    expect(loadConfig({}).trackingGroupLanes).toBe(2);
    expect(loadConfig({ TRACKING_GROUP_LANES: '1' }).trackingGroupLanes).toBe(1);
    expect(loadConfig({ TRACKING_GROUP_LANES: '64' }).trackingGroupLanes).toBe(64);
    for (const bad of ['0', '65', '-2', '1.5', 'two']) expect(() => loadConfig({ TRACKING_GROUP_LANES: bad })).toThrow(/TRACKING_GROUP_LANES/);
  });

  it('IDEMPOTENT_RESPONSE_MAX_BYTES: 64 KiB by default, 0 (keep no answer) to 1 MiB, anything else refused', () => {
    expect(loadConfig({}).idempotentResponseMaxBytes).toBe(65_536);
    expect(loadConfig({ IDEMPOTENT_RESPONSE_MAX_BYTES: '0' }).idempotentResponseMaxBytes).toBe(0);
    expect(loadConfig({ IDEMPOTENT_RESPONSE_MAX_BYTES: '1048576' }).idempotentResponseMaxBytes).toBe(1_048_576);
    for (const bad of ['-1', '1048577', '1.5', 'big']) expect(() => loadConfig({ IDEMPOTENT_RESPONSE_MAX_BYTES: bad })).toThrow(/IDEMPOTENT_RESPONSE_MAX_BYTES/);
  });
});

describe('HOST and PUBLIC_URL', () => {
  const KEY = 'a-real-admin-key-0123';

  it('with the development key: 127.0.0.1 whatever HOST says, and the asked HOST kept to say why', () => {
    expect(loadConfig({})).toMatchObject({ host: '127.0.0.1', hostOverride: undefined, publicUrl: 'http://127.0.0.1:5000' });
    expect(loadConfig({ HOST: '0.0.0.0' })).toMatchObject({ host: '127.0.0.1', hostOverride: '0.0.0.0' });
    expect(loadConfig({ HOST: '127.0.0.1' })).toMatchObject({ host: '127.0.0.1', hostOverride: undefined });
  });

  it('with a real ADMIN_API_KEY: every interface by default, else HOST; the public URL is the own address', () => {
    expect(loadConfig({ ADMIN_API_KEY: KEY })).toMatchObject({ host: '0.0.0.0', hostOverride: undefined, publicUrl: 'http://localhost:5000' });
    expect(loadConfig({ ADMIN_API_KEY: KEY, HOST: '10.0.0.7', PORT: '8080' })).toMatchObject({ host: '10.0.0.7', publicUrl: 'http://10.0.0.7:8080' });
    expect(loadConfig({ ADMIN_API_KEY: KEY, HOST: '::1' })).toMatchObject({ host: '::1', publicUrl: 'http://[::1]:5000' });
    expect(loadConfig({ ADMIN_API_KEY: KEY, HOST: '::' }).publicUrl).toBe('http://localhost:5000');
  });

  it('PUBLIC_URL: http or https, an optional path prefix, no trailing slash; anything else refused', () => {
    expect(loadConfig({ PUBLIC_URL: 'https://metering.example.com/' }).publicUrl).toBe('https://metering.example.com');
    expect(loadConfig({ PUBLIC_URL: 'https://example.com:8443/metering//' }).publicUrl).toBe('https://example.com:8443/metering');
    for (const bad of ['example.com', 'ftp://example.com', 'https://example.com/?a=1', 'https://example.com/#x', 'https://u:p@example.com']) {
      expect(() => loadConfig({ PUBLIC_URL: bad })).toThrow(/PUBLIC_URL/);
    }
    for (const bad of ['a b', 'host/path', 'x;y']) expect(() => loadConfig({ HOST: bad })).toThrow(/HOST/);
  });
});

describe('the ingest queue', () => {
  it('ingest queue bounds: defaults, and anything out of range refused', () => {
    const c = loadConfig({});
    expect([c.asyncBatchSize, c.asyncFlushIntervalMs, c.ingestMaxMessages, c.ingestMaxBytes, c.ingestMaxAgeSeconds, c.ingestLeaseSeconds, c.ingestDrainers, c.ingestLagAlertSeconds]).toEqual([2000, 100, 1_000_000, 1024 ** 3, 3600, 60, 1, 60]);
    expect(loadConfig({ INGEST_MAX_MESSAGES: '1', ASYNC_BATCH_SIZE: '10000', INGEST_DRAINERS: '0' })).toMatchObject({ ingestMaxMessages: 1, asyncBatchSize: 10_000, ingestDrainers: 0 });
    for (const [name, bad] of [['INGEST_MAX_MESSAGES', '0'], ['INGEST_MAX_BYTES', '1023'], ['INGEST_MAX_AGE_SECONDS', 'x'], ['INGEST_LEASE_SECONDS', '0'], ['INGEST_DRAINERS', '17'], ['ASYNC_BATCH_SIZE', '10001'], ['INGEST_LAG_ALERT_SECONDS', '1.5']]) {
      expect(() => loadConfig({ [name]: bad })).toThrow(new RegExp(name));
    }
  });
});

describe('ingest queue settings', () => {
  it('ingest queue bounds: defaults, ranges, anything else refused', () => {
    expect(loadConfig({})).toMatchObject({ ingestMaxMessages: 1_000_000, ingestMaxBytes: 1024 ** 3, ingestMaxAgeSeconds: 3_600, ingestLeaseSeconds: 60 });
    expect(loadConfig({}).nats).toBeUndefined();
    expect(loadConfig({ INGEST_MAX_MESSAGES: '1', INGEST_MAX_BYTES: String(1024 ** 4), INGEST_MAX_AGE_SECONDS: '0', INGEST_LEASE_SECONDS: '3600' })).toMatchObject({
      ingestMaxMessages: 1,
      ingestMaxBytes: 1024 ** 4,
      ingestMaxAgeSeconds: 0,
      ingestLeaseSeconds: 3_600,
    });
    for (const [name, bad] of [
      ['INGEST_MAX_MESSAGES', '0'],
      ['INGEST_MAX_MESSAGES', '1000000001'],
      ['INGEST_MAX_BYTES', '1000'],
      ['INGEST_MAX_BYTES', String(1024 ** 4 + 1)],
      ['INGEST_MAX_AGE_SECONDS', '-1'],
      ['INGEST_MAX_AGE_SECONDS', '604801'],
      ['INGEST_LEASE_SECONDS', '0'],
      ['INGEST_LEASE_SECONDS', '1.5'],
    ]) {
      expect(() => loadConfig({ [name]: bad })).toThrow(new RegExp(name));
    }
  });

  it('NATS: unset means the PostgreSQL queue; NATS_URL turns JetStream on with documented defaults', () => {
    expect(loadConfig({ NATS_URL: '  ' }).nats).toBeUndefined();
    expect(loadConfig({ NATS_URL: 'nats://127.0.0.1:4222' }).nats).toEqual({
      servers: ['nats://127.0.0.1:4222'],
      stream: 'METERING_INGEST',
      subjectPrefix: 'metering.ingest',
      consumer: 'metering-drainers',
      replicas: 1,
      duplicateWindowSeconds: 120,
      maxAckPending: 20_000,
    });
    expect(
      loadConfig({
        NATS_URL: 'nats://a:4222, nats://user:pw@b:4222,tls://c:4222',
        NATS_STREAM: 'INGEST_EU',
        NATS_SUBJECT_PREFIX: 'eu.ingest',
        NATS_CONSUMER: 'drainers-eu',
        NATS_REPLICAS: '3',
        NATS_DUPLICATE_WINDOW_SECONDS: '86400',
        NATS_MAX_ACK_PENDING: '1000000',
      }).nats,
    ).toEqual({
      servers: ['nats://a:4222', 'nats://user:pw@b:4222', 'tls://c:4222'],
      stream: 'INGEST_EU',
      subjectPrefix: 'eu.ingest',
      consumer: 'drainers-eu',
      replicas: 3,
      duplicateWindowSeconds: 86_400,
      maxAckPending: 1_000_000,
    });
  });

  it('NATS: bad settings are refused, a server URL never echoed (it may hold a password)', () => {
    for (const bad of ['http://a:4222', 'not a url', ',', 'nats://a:4222,redis://secret@b']) {
      expect(() => loadConfig({ NATS_URL: bad })).toThrow(/NATS_URL must list/);
    }
    expect(() => loadConfig({ NATS_URL: 'http://user:hunter2@a:4222' })).not.toThrow(/hunter2/);
    const nats = { NATS_URL: 'nats://a:4222' };
    for (const [name, bad] of [
      ['NATS_STREAM', 'METERING.INGEST'],
      ['NATS_STREAM', 'a b'],
      ['NATS_STREAM', 'x'.repeat(65)],
      ['NATS_CONSUMER', 'drainers>'],
      ['NATS_SUBJECT_PREFIX', 'metering.*'],
      ['NATS_SUBJECT_PREFIX', 'metering..ingest'],
      ['NATS_SUBJECT_PREFIX', 'metering.>'],
      ['NATS_REPLICAS', '0'],
      ['NATS_REPLICAS', '6'],
      ['NATS_DUPLICATE_WINDOW_SECONDS', '0'],
      ['NATS_DUPLICATE_WINDOW_SECONDS', '86401'],
      ['NATS_MAX_ACK_PENDING', '0'],
    ]) {
      expect(() => loadConfig({ ...nats, [name]: bad })).toThrow(new RegExp(name));
    }
  });
});
