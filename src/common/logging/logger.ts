import { LoggerService } from '@nestjs/common';
import type { FastifyBaseLogger } from 'fastify';
import pino, { Bindings, ChildLoggerOptions, DestinationStream, Level, Logger } from 'pino';
import type { LogLevel } from '../../config/app-config';
import { STARTUP_NOISE_CONTEXTS } from './banner';

/** Header and field names whose values never reach a log line. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'headers.authorization',
  'authorization',
  'apiKey',
  'key',
  'secret',
  'webhookSecret',
  'password',
];

/** Query parameters whose value is a secret, whatever it looks like (compared lower-case, `-` and `_` removed). */
const SECRET_PARAMETERS = new Set(['token', 'key', 'portal', 'apikey', 'accesstoken', 'secret', 'password', 'authorization', 'auth']);
/** A portal token (`nxp_`) or an API key (`nxk_`), wherever it sits in a URL (percent-encoded `_` included). */
const SECRET_VALUE = /(nx[pk])(_|%5f)[^&#/?\s+]*/gi;
const REDACTED = '[redacted]';

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}

/**
 * A URL as it may be logged: a token sent by mistake in the query string (`?token=nxp_…`, `?apiKey=…`) or
 * anywhere in the URL (`nxp_…`, `nxk_…`) is replaced by `[redacted]`; the rest is kept as it came. Access
 * logs are read by more people than the keys are meant for, and kept longer.
 */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  let out = path.replace(SECRET_VALUE, `$1_${REDACTED}`);
  if (q === -1) return out;
  const parts = url.slice(q + 1).split('&').map((part) => {
    const eq = part.indexOf('=');
    const name = eq === -1 ? part : part.slice(0, eq);
    const value = eq === -1 ? '' : part.slice(eq + 1);
    if (SECRET_PARAMETERS.has(safeDecode(name).toLowerCase().replace(/[-_]/g, '')) && value !== '') return `${name}=${REDACTED}`;
    if (/^nx[pk]_/i.test(safeDecode(value))) return `${name}=${REDACTED}`;
    return part.replace(SECRET_VALUE, `$1_${REDACTED}`);
  });
  out += `?${parts.join('&')}`;
  return out;
}

/**
 * Fastify's request serializer with the URL redacted (see redactUrl): what Fastify's own would log otherwise
 * (its serializer is replaced by the logger instance's).
 */
export const requestSerializer = (req: { method?: string; url?: string; host?: string; ip?: string; socket?: { remotePort?: number } }) => ({
  method: req.method,
  url: typeof req.url === 'string' ? redactUrl(req.url) : req.url,
  host: req.host,
  remoteAddress: req.ip,
  remotePort: req.socket?.remotePort,
});

/** Structured JSON logs (pino, the one Fastify already ships), secrets redacted. */
export function createPinoLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      serializers: { req: requestSerializer },
      base: { service: 'credit-metering' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}

type LevelMethod = (...args: unknown[]) => void;

/**
 * Fastify's per-request logger, made into a pino child only when it first writes a line. Fastify calls
 * `logger.child({reqId})` for every request (~2 µs: the bindings are serialized), and at the production level
 * (warn) almost no request ever logs: its "incoming request" and "request completed" lines are info. A line
 * that is written goes through the same pino child as before, so log content does not change.
 */
class LazyRequestLogger {
  private made?: Logger;

  constructor(
    private readonly parent: Logger,
    private readonly childBindings: Bindings,
  ) {}

  get level(): string {
    return (this.made ?? this.parent).level;
  }

  set level(level: string) {
    this.logger().level = level;
  }

  private logger(): Logger {
    return (this.made ??= this.parent.child(this.childBindings));
  }

  private write(level: Level, args: unknown[]): void {
    if (!(this.made ?? this.parent).isLevelEnabled(level)) return;
    (this.logger()[level] as LevelMethod)(...args);
  }

  isLevelEnabled(level: string): boolean {
    return (this.made ?? this.parent).isLevelEnabled(level);
  }
  fatal(...args: unknown[]): void {
    this.write('fatal', args);
  }
  error(...args: unknown[]): void {
    this.write('error', args);
  }
  warn(...args: unknown[]): void {
    this.write('warn', args);
  }
  info(...args: unknown[]): void {
    this.write('info', args);
  }
  debug(...args: unknown[]): void {
    this.write('debug', args);
  }
  trace(...args: unknown[]): void {
    this.write('trace', args);
  }
  silent(): void {}
  child(bindings: Bindings, options?: ChildLoggerOptions): Logger {
    return this.logger().child(bindings, options);
  }
  bindings(): Bindings {
    return this.logger().bindings();
  }
}

/**
 * Fastify's `childLoggerFactory` for the pino logger: a lazy child per request (LazyRequestLogger), or pino's
 * own child when the route asks for options (a route-level `logLevel`, a serializer).
 */
export function lazyRequestLoggerFactory(logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  if (options && Object.keys(options).length > 0) return logger.child(bindings, options);
  // Installed only over createPinoLogger's logger (a whole pino Logger: isLevelEnabled, bindings).
  return new LazyRequestLogger(logger as unknown as Logger, bindings) as unknown as FastifyBaseLogger;
}

/**
 * The service's Nest LoggerService: Nest's own logs and every `new Logger(context)` of the code, as JSON lines
 * in the same pino stream as the request logs. A host passes its own LoggerService to createApp({ logger })
 * instead (or uses this one in its own app: `NestFactory.create(M, { logger: new AppLogger(createPinoLogger('info')) })`).
 */
export class AppLogger implements LoggerService {
  constructor(readonly pino: Logger) {}

  log(message: unknown, context?: string): void {
    // Module and route loading is for whoever debugs the wiring: a person starting the service gets the banner.
    if (context !== undefined && STARTUP_NOISE_CONTEXTS.has(context)) this.pino.debug({ context }, String(message));
    else this.pino.info({ context }, String(message));
  }
  error(message: unknown, trace?: string, context?: string): void {
    this.pino.error({ context, trace }, String(message));
  }
  warn(message: unknown, context?: string): void {
    this.pino.warn({ context }, String(message));
  }
  debug(message: unknown, context?: string): void {
    this.pino.debug({ context }, String(message));
  }
  verbose(message: unknown, context?: string): void {
    this.pino.trace({ context }, String(message));
  }
  fatal(message: unknown, context?: string): void {
    this.pino.fatal({ context }, String(message));
  }
}

/** The earlier name of AppLogger. */
export const PinoNestLogger = AppLogger;

type FastifyLogFn = (...args: unknown[]) => void;

/** What Fastify requires of a `loggerInstance`. */
export interface FastifyCompatibleLogger {
  level: string;
  info: FastifyLogFn;
  error: FastifyLogFn;
  warn: FastifyLogFn;
  debug: FastifyLogFn;
  trace: FastifyLogFn;
  fatal: FastifyLogFn;
  silent: FastifyLogFn;
  child(bindings: Record<string, unknown>): FastifyCompatibleLogger;
}

/**
 * Fastify's request logs, sent to a host's LoggerService. Fastify hands its logger whole request and reply
 * objects (headers, keys and all): only the method, URL, status and timing are ever passed on, so a host
 * logger that does not redact still never sees a secret.
 */
export function fastifyLoggerFor(target: LoggerService, bindings: Record<string, unknown> = {}): FastifyCompatibleLogger {
  const context = 'HTTP';
  const describe = (args: unknown[]): string => {
    const [first, second] = args;
    const text = typeof first === 'string' ? first : typeof second === 'string' ? second : '';
    const parts: string[] = [];
    if (typeof bindings.reqId === 'string') parts.push(`[${bindings.reqId}]`);
    if (first && typeof first === 'object') {
      const fields = first as { req?: { method?: unknown; url?: unknown }; res?: { statusCode?: unknown }; responseTime?: unknown; err?: { message?: unknown } };
      if (fields.req) parts.push(`${String(fields.req.method)} ${redactUrl(String(fields.req.url))}`);
      if (fields.res) parts.push(`${String(fields.res.statusCode)}`);
      if (typeof fields.responseTime === 'number') parts.push(`${fields.responseTime.toFixed(1)} ms`);
      if (fields.err?.message) parts.push(String(fields.err.message));
    }
    if (text) parts.push(text);
    return parts.join(' ');
  };
  return {
    level: 'info',
    info: (...args) => target.log(describe(args), context),
    error: (...args) => target.error(describe(args), undefined, context),
    warn: (...args) => target.warn(describe(args), context),
    debug: (...args) => target.debug?.(describe(args), context),
    trace: (...args) => target.verbose?.(describe(args), context),
    fatal: (...args) => (target.fatal ? target.fatal(describe(args), context) : target.error(describe(args), undefined, context)),
    silent: () => undefined,
    child: (more) => fastifyLoggerFor(target, { ...bindings, ...more }),
  };
}
