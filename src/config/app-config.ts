import { validateCronExpression } from 'cron';
import { DEFAULT_IDEMPOTENT_RESPONSE_MAX_BYTES } from '../../libs/contracts/src/idempotent-replay';

/**
 * Typed, validated configuration read from the environment once at start-up (through @nestjs/config: see
 * app-config.module.ts, which loads ./.env and calls loadConfig as its `validate` function).
 * Every bad variable is reported with its own message; nothing starts on a bad environment.
 */
export type NodeEnv = 'development' | 'production' | 'test';
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const DEV_ADMIN_API_KEY = 'dev-admin-key';

export interface AppConfig {
  port: number;
  /**
   * The address the HTTP server binds to. HOST when given (default 0.0.0.0, every interface), except while
   * the development admin key is in use: then always 127.0.0.1, so the key that anyone can read in the docs
   * never reaches the network (see `hostOverride`).
   */
  host: string;
  /** HOST as asked, when the development key forced 127.0.0.1 instead (the banner says why). */
  hostOverride?: string;
  /**
   * Where people reach the service (scheme, host, port, optional path prefix; no trailing slash): the origin
   * of portal links and of the start-up banner. PUBLIC_URL, else the service's own address. Never taken from
   * a request's Host or X-Forwarded-Host header (anyone can send those).
   */
  publicUrl: string;
  /** PostgreSQL connection string; undefined means the embedded PGlite database. */
  databaseUrl?: string;
  /**
   * The PostgreSQL schema of metering's tables, functions and migrations table. Undefined (the service,
   * standalone): the server's default, `public`. Embedded in another application: `metering` (never read
   * from the environment: UsageTrackingModule.forRoot sets it).
   */
  databaseSchema?: string;
  /** Folder of the embedded database (`memory://` keeps it in memory, for tests). */
  dataDir: string;
  redisUrl?: string;
  adminApiKey: string;
  /** True when ADMIN_API_KEY was not given and the development default is in use. */
  adminApiKeyIsDefault: boolean;
  nodeEnv: NodeEnv;
  configCacheTtlSeconds: number;
  logLevel: LogLevel;
  bodyLimitBytes: number;
  databasePoolSize: number;
  /**
   * Asynchronous ingestion: events a drainer claims from the ingest queue at once (one ledger transaction),
   * and how often an idle drainer looks for work (milliseconds).
   */
  asyncBatchSize: number;
  asyncFlushIntervalMs: number;
  /** Bounds of the ingest queue: past any of them an asynchronous call answers 503 INGEST_QUEUE_FULL (Retry-After). */
  ingestMaxMessages: number;
  ingestMaxBytes: number;
  /** The oldest waiting event may be this old (seconds) before new ones are refused: the drainers are behind or down. 0: no age bound. */
  ingestMaxAgeSeconds: number;
  /** A claimed batch not acknowledged within this many seconds (its drainer died) is delivered again. */
  ingestLeaseSeconds: number;
  /** Drain loops per instance (each claims and writes its own batches). */
  ingestDrainers: number;
  /** The reconciliation alert (and the Jobs page) flags the queue when its oldest event is older than this (seconds). */
  ingestLagAlertSeconds: number;
  /** Requests worked on at once before new ones get 503 OVERLOADED (health and metrics exempt); 0 = no limit. */
  maxInFlightRequests: number;
  /**
   * Group commit of single tracked events: how many transactions of them may run at once. Every organization
   * has one lane (its events stay in order); a lane's events share one transaction whatever their organization.
   */
  trackingGroupLanes: number;
  /**
   * The largest first answer of a `@TrackUsage` request kept with its Idempotency-Key (status, body and
   * usage, as JSON bytes): a replay gets it back. A larger answer is not kept; its replay is 409
   * IDEMPOTENCY_REPLAYED with the original charge. Bounded so a key row stays small.
   */
  idempotentResponseMaxBytes: number;
  /** Behind a reverse proxy: take the client IP from X-Forwarded-For (else a client could pick its own IP). */
  trustProxy: boolean;
  /** Requests per minute per organization API key (and per client IP without a valid key); 0 = no limit. */
  rateLimitPerMinute: number;
  /** Requests per minute for the admin key; 0 = not limited. */
  rateLimitAdminPerMinute: number;
  /** How long a resolved API key is trusted in-process; bounds how late a revocation reaches other instances if its bus message is lost. */
  apiKeyCacheTtlSeconds: number;
  /** X-User-Id of a non-member, on an organization that has members: 403 USER_NOT_MEMBER (true) or allowed. */
  strictMembership: boolean;
  /** Milliseconds between two chunks of the stand-in language model's streamed answer (`"stream": true`). */
  llmStreamChunkMs: number;
  /** Minutes after a period ends before the close job freezes it (late events for it are still accepted meanwhile). */
  periodCloseGraceMinutes: number;
  /** Scheduled jobs and their start-up catch-up run on this instance (operators can always run a job by hand). */
  jobsEnabled: boolean;
  /** Cron expressions (UTC) of the scheduled jobs, by job name. */
  jobSchedules: JobSchedules;
  /** The ingest queue on NATS JetStream instead of PostgreSQL: set when NATS_URL is. */
  nats?: NatsConfig;
}

export interface NatsConfig {
  /** NATS_URL split on commas: any node of a cluster will do, more give the client a choice at start. */
  servers: string[];
  stream: string;
  subjectPrefix: string;
  consumer: string;
  /** Copies of every message: 1 on one node, 3 (or 5) on a cluster. */
  replicas: number;
  duplicateWindowSeconds: number;
  /** Claimed and not yet acknowledged messages, every instance together (the consumer's max_ack_pending). */
  maxAckPending: number;
}

export class ConfigValidationError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid environment:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigValidationError';
  }
}

type Env = Record<string, string | undefined>;

function blankToUndefined(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function intVar(env: Env, name: string, fallback: number, min: number, max: number, problems: string[]): number {
  const raw = blankToUndefined(env[name]);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    problems.push(`${name} must be a whole number from ${min} to ${max} (got "${raw}")`);
    return fallback;
  }
  return Number(raw);
}

function boolVar(env: Env, name: string, fallback: boolean, problems: string[]): boolean {
  const raw = blankToUndefined(env[name]);
  if (raw === undefined) return fallback;
  if (['true', '1', 'yes'].includes(raw.toLowerCase())) return true;
  if (['false', '0', 'no'].includes(raw.toLowerCase())) return false;
  problems.push(`${name} must be true or false (got "${raw}")`);
  return fallback;
}

function urlVar(env: Env, name: string, protocols: string[], problems: string[]): string | undefined {
  const raw = blankToUndefined(env[name]);
  if (raw === undefined) return undefined;
  try {
    const url = new URL(raw);
    if (!protocols.includes(url.protocol)) {
      problems.push(`${name} must start with ${protocols.map((p) => `${p}//`).join(' or ')}`);
    }
  } catch {
    // Never echo the value: a connection string may hold a password.
    problems.push(`${name} is not a valid URL`);
  }
  return raw;
}

/** A JetStream stream or consumer name: no `.`, `*`, `>`, white space or path separators (the server refuses them). */
const NATS_NAME = /^[A-Za-z0-9_-]{1,64}$/;
/** Subject tokens of letters, digits, `-` and `_`, joined by dots (no wildcard: the stream binds `<prefix>.>`). */
const NATS_SUBJECT_PREFIX = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

function natsServers(env: Env, problems: string[]): string[] | undefined {
  const raw = blankToUndefined(env.NATS_URL);
  if (raw === undefined) return undefined;
  const servers = raw.split(',').map((part) => part.trim()).filter((part) => part !== '');
  for (const server of servers) {
    try {
      const url = new URL(server);
      if (!['nats:', 'tls:'].includes(url.protocol) || url.hostname === '') problems.push('NATS_URL must list nats:// or tls:// servers, separated by commas');
    } catch {
      // Never echo the value: a server URL may hold a user and password.
      problems.push('NATS_URL must list nats:// or tls:// servers, separated by commas');
    }
  }
  if (servers.length === 0) problems.push('NATS_URL must list nats:// or tls:// servers, separated by commas');
  return servers;
}

function natsName(env: Env, name: string, fallback: string, problems: string[]): string {
  const raw = blankToUndefined(env[name]) ?? fallback;
  if (!NATS_NAME.test(raw)) problems.push(`${name} must be 1 to 64 letters, digits, "-" or "_" (got "${raw}")`);
  return raw;
}

function ingestSettings(
  env: Env,
  problems: string[],
): Pick<AppConfig, 'nats'> {
  // The queue's bounds and lease (INGEST_*) are the same settings on PostgreSQL and on JetStream: read with the rest.
  const servers = natsServers(env, problems);
  if (servers === undefined) return {};
  const subjectPrefix = blankToUndefined(env.NATS_SUBJECT_PREFIX) ?? 'metering.ingest';
  if (!NATS_SUBJECT_PREFIX.test(subjectPrefix)) problems.push(`NATS_SUBJECT_PREFIX must be dot-separated tokens of letters, digits, "-" or "_" (got "${subjectPrefix}")`);
  return {
    nats: {
      servers,
      stream: natsName(env, 'NATS_STREAM', 'METERING_INGEST', problems),
      subjectPrefix,
      consumer: natsName(env, 'NATS_CONSUMER', 'metering-drainers', problems),
      replicas: intVar(env, 'NATS_REPLICAS', 1, 1, 5, problems),
      // Longer than any client's retry horizon makes a retried publish a no-op; past it the ledger's idempotency key still holds.
      duplicateWindowSeconds: intVar(env, 'NATS_DUPLICATE_WINDOW_SECONDS', 120, 1, 86_400, problems),
      maxAckPending: intVar(env, 'NATS_MAX_ACK_PENDING', 20_000, 1, 1_000_000, problems),
    },
  };
}

/** Scheduled jobs: the variable holding each one's cron expression (UTC), and its default. */
export const JOB_SCHEDULE_VARIABLES = {
  'period-close': { variable: 'JOB_PERIOD_CLOSE_CRON', fallback: '5 * * * *' },
  'rollup-refresh': { variable: 'JOB_ROLLUP_REFRESH_CRON', fallback: '30 0 * * *' },
  'ledger-reconciliation': { variable: 'JOB_RECONCILIATION_CRON', fallback: '45 2 * * *' },
  'usage-partitions': { variable: 'JOB_PARTITIONS_CRON', fallback: '10 0 * * *' },
} as const;

/**
 * Jobs that tick every few seconds (expiry and delivery latency matter more than a cron minute): the variable
 * holding each one's cadence in seconds, and its default. The cadence becomes a step in the seconds field of a cron
 * expression (15: at seconds 0, 15, 30 and 45), so it must divide a minute evenly, else the last gap of each
 * minute would be shorter.
 */
export const JOB_INTERVAL_VARIABLES = {
  'reservation-expiry': { variable: 'JOB_RESERVATION_EXPIRY_SECONDS', fallback: 15 },
  'webhook-delivery': { variable: 'JOB_WEBHOOK_DELIVERY_SECONDS', fallback: 2 },
} as const;
export const JOB_INTERVAL_SECONDS = [1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60] as const;

export type JobSchedules = Record<keyof typeof JOB_SCHEDULE_VARIABLES | keyof typeof JOB_INTERVAL_VARIABLES, string>;

/** The seconds-field cron expression that fires every `seconds` (a divisor of 60) seconds. */
export function everySecondsCron(seconds: number): string {
  return seconds === 60 ? '0 * * * * *' : `*/${seconds} * * * * *`;
}

/** Why a cron expression is refused (5 fields, or 6 with seconds, parsed by the scheduler's own parser), or undefined. */
export function cronExpressionProblem(expression: string): string | undefined {
  const fields = expression.split(/\s+/);
  if (fields.length !== 5 && fields.length !== 6) return `has ${fields.length} fields`;
  const { valid, error } = validateCronExpression(expression);
  return valid ? undefined : (error?.message ?? 'cannot be parsed');
}

/** The job schedules of an environment (cron expressions, UTC), each validated with the scheduler's parser. */
export function jobSchedulesFrom(env: Env, problems: string[] = []): JobSchedules {
  const schedules = {} as JobSchedules;
  for (const [job, { variable, fallback }] of Object.entries(JOB_SCHEDULE_VARIABLES) as Array<[keyof typeof JOB_SCHEDULE_VARIABLES, { variable: string; fallback: string }]>) {
    const raw = blankToUndefined(env[variable]);
    const problem = raw === undefined ? undefined : cronExpressionProblem(raw);
    if (problem !== undefined) problems.push(`${variable} must be a cron expression of 5 or 6 fields (got "${raw}": ${problem})`);
    schedules[job] = raw !== undefined && problem === undefined ? raw : fallback;
  }
  for (const [job, { variable, fallback }] of Object.entries(JOB_INTERVAL_VARIABLES) as Array<[keyof typeof JOB_INTERVAL_VARIABLES, { variable: string; fallback: number }]>) {
    const raw = blankToUndefined(env[variable]);
    let seconds: number = fallback;
    if (raw !== undefined) {
      if (/^\d+$/.test(raw) && (JOB_INTERVAL_SECONDS as readonly number[]).includes(Number(raw))) seconds = Number(raw);
      else problems.push(`${variable} must be a number of seconds that divides a minute: ${JOB_INTERVAL_SECONDS.join(', ')} (got "${raw}")`);
    }
    schedules[job] = everySecondsCron(seconds);
  }
  return schedules;
}

function jobSettings(env: Env, nodeEnv: NodeEnv, problems: string[]): Pick<AppConfig, 'periodCloseGraceMinutes' | 'jobsEnabled' | 'jobSchedules'> {
  return {
    periodCloseGraceMinutes: intVar(env, 'PERIOD_CLOSE_GRACE_MINUTES', 60, 0, 44_640, problems),
    // Tests trigger jobs themselves, with a fake clock: nothing runs behind their back unless they ask.
    jobsEnabled: boolVar(env, 'JOBS_ENABLED', nodeEnv !== 'test', problems),
    jobSchedules: jobSchedulesFrom(env, problems),
  };
}

/** Loopback: where the development key may be served. */
export const LOOPBACK_HOST = '127.0.0.1';
const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '[::]']);

/** The address a person on this machine uses for a bind address (a wildcard is reached at localhost). */
export function ownOrigin(host: string, port: number): string {
  const name = WILDCARD_HOSTS.has(host) ? 'localhost' : host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `http://${name}:${port}`;
}

function hostSettings(env: Env, port: number, devKey: boolean, problems: string[]): Pick<AppConfig, 'host' | 'hostOverride' | 'publicUrl'> {
  const hostRaw = blankToUndefined(env.HOST);
  if (hostRaw !== undefined && !/^(\[?[0-9A-Fa-f:.]+\]?|[A-Za-z0-9.-]+)$/.test(hostRaw)) {
    problems.push(`HOST must be an IP address or a host name (got "${hostRaw}")`);
  }
  const asked = hostRaw ?? '0.0.0.0';
  // The development key is public knowledge: with it, only this machine may reach the service.
  const host = devKey ? LOOPBACK_HOST : asked;
  const hostOverride = devKey && hostRaw !== undefined && hostRaw !== LOOPBACK_HOST ? hostRaw : undefined;
  let publicUrl = ownOrigin(host, port);
  const publicRaw = blankToUndefined(env.PUBLIC_URL);
  if (publicRaw !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(publicRaw);
    } catch {
      problems.push(`PUBLIC_URL is not a valid URL (got "${publicRaw}")`);
    }
    if (url && (!['http:', 'https:'].includes(url.protocol) || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '')) {
      problems.push(`PUBLIC_URL must be an http:// or https:// address without query, fragment or credentials (got "${publicRaw}")`);
    } else if (url) {
      publicUrl = `${url.origin}${url.pathname}`.replace(/\/+$/, '');
    }
  }
  return { host, hostOverride, publicUrl };
}

export function loadConfig(env: Env = process.env): AppConfig {
  const problems: string[] = [];
  const nodeEnvRaw = blankToUndefined(env.NODE_ENV) ?? 'development';
  if (!['development', 'production', 'test'].includes(nodeEnvRaw)) {
    problems.push(`NODE_ENV must be development, production or test (got "${nodeEnvRaw}")`);
  }
  const nodeEnv = nodeEnvRaw as NodeEnv;
  const logLevelRaw = blankToUndefined(env.LOG_LEVEL) ?? (nodeEnv === 'test' ? 'silent' : 'info');
  if (!(LOG_LEVELS as readonly string[]).includes(logLevelRaw)) {
    problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got "${logLevelRaw}")`);
  }
  const adminKeyRaw = blankToUndefined(env.ADMIN_API_KEY);
  if (adminKeyRaw === undefined && nodeEnv === 'production') {
    problems.push('ADMIN_API_KEY is required when NODE_ENV=production');
  }
  if (adminKeyRaw !== undefined && adminKeyRaw.length < 12) {
    problems.push('ADMIN_API_KEY must be at least 12 characters long');
  }
  const port = intVar(env, 'PORT', 5000, 0, 65535, problems);
  const config: AppConfig = {
    port,
    ...hostSettings(env, port, adminKeyRaw === undefined, problems),
    databaseUrl: urlVar(env, 'DATABASE_URL', ['postgres:', 'postgresql:'], problems),
    dataDir: blankToUndefined(env.DATA_DIR) ?? './data',
    redisUrl: urlVar(env, 'REDIS_URL', ['redis:', 'rediss:'], problems),
    adminApiKey: adminKeyRaw ?? DEV_ADMIN_API_KEY,
    adminApiKeyIsDefault: adminKeyRaw === undefined,
    nodeEnv,
    configCacheTtlSeconds: intVar(env, 'CONFIG_CACHE_TTL_SECONDS', 300, 1, 86_400, problems),
    logLevel: logLevelRaw as LogLevel,
    bodyLimitBytes: intVar(env, 'BODY_LIMIT_BYTES', 2 * 1024 * 1024, 1024, 64 * 1024 * 1024, problems),
    databasePoolSize: intVar(env, 'DATABASE_POOL_SIZE', 20, 1, 200, problems),
    asyncBatchSize: intVar(env, 'ASYNC_BATCH_SIZE', 2000, 1, 10_000, problems),
    asyncFlushIntervalMs: intVar(env, 'ASYNC_FLUSH_INTERVAL_MS', 100, 10, 60_000, problems),
    ingestMaxMessages: intVar(env, 'INGEST_MAX_MESSAGES', 1_000_000, 1, 1_000_000_000, problems),
    ingestMaxBytes: intVar(env, 'INGEST_MAX_BYTES', 1024 * 1024 * 1024, 1024, 1024 * 1024 * 1024 * 1024, problems),
    ingestMaxAgeSeconds: intVar(env, 'INGEST_MAX_AGE_SECONDS', 3600, 0, 7 * 86_400, problems),
    ingestLeaseSeconds: intVar(env, 'INGEST_LEASE_SECONDS', 60, 1, 3600, problems),
    ingestDrainers: intVar(env, 'INGEST_DRAINERS', 1, 0, 16, problems),
    ingestLagAlertSeconds: intVar(env, 'INGEST_LAG_ALERT_SECONDS', 60, 1, 86_400, problems),
    maxInFlightRequests: intVar(env, 'MAX_IN_FLIGHT_REQUESTS', 256, 0, 100_000, problems),
    trackingGroupLanes: intVar(env, 'TRACKING_GROUP_LANES', 2, 1, 64, problems),
    idempotentResponseMaxBytes: intVar(env, 'IDEMPOTENT_RESPONSE_MAX_BYTES', DEFAULT_IDEMPOTENT_RESPONSE_MAX_BYTES, 0, 1024 * 1024, problems),
    trustProxy: boolVar(env, 'TRUST_PROXY', false, problems),
    rateLimitPerMinute: intVar(env, 'RATE_LIMIT_PER_MINUTE', 100_000, 0, 100_000_000, problems),
    rateLimitAdminPerMinute: intVar(env, 'RATE_LIMIT_ADMIN_PER_MINUTE', 0, 0, 100_000_000, problems),
    apiKeyCacheTtlSeconds: intVar(env, 'API_KEY_CACHE_TTL_SECONDS', 5, 0, 300, problems),
    strictMembership: boolVar(env, 'STRICT_MEMBERSHIP', true, problems),
    llmStreamChunkMs: intVar(env, 'LLM_STREAM_CHUNK_MS', 5, 0, 10_000, problems),
    ...jobSettings(env, nodeEnv, problems),
    ...ingestSettings(env, problems),
  };
  if (problems.length > 0) throw new ConfigValidationError(problems);
  return config;
}

/** Injection token for the typed configuration. */
export const APP_CONFIG = Symbol('APP_CONFIG');
