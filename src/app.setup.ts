import { Logger, LoggerService, ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomUUID } from 'node:crypto';
import type { DestinationStream } from 'pino';
import { AppModule } from './app.module';
import { registerHttpSecurity } from './common/auth/http-security';
import { AuthGuard } from './common/auth/auth.guard';
import { registerDirectRoutes } from './common/http/direct-routes';
import { registerLoadShedding } from './common/http/load-shedding';
import { Clock } from './common/clock/clock';
import { validationFailed } from './common/errors/domain-error';
import { AllExceptionsFilter } from './common/errors/all-exceptions.filter';
import { flattenValidationErrors } from './common/errors/validation-errors';
import { AppLogger, createPinoLogger, fastifyLoggerFor, lazyRequestLoggerFactory } from './common/logging/logger';
import { HttpLabelCache } from './common/metrics/http-labels';
import { MetricsService } from './common/metrics/metrics.service';
import { AppConfig } from './config/app-config';
import { loadConfigFromEnvironment } from './config/config-root.module';
import { checkResponsesAgainst, type ContractViolation } from './openapi/contract-validator';
import { buildOpenApiDocument, serveOpenApiDocument } from './openapi/openapi-document';
import type { ConfigFromEnvironmentOptions } from './config/config-root.module';

export interface CreateAppOptions {
  /**
   * The configuration (tests, benchmarks). Absent: read from ./.env and the process environment through
   * @nestjs/config and validated (see `env`); a bad variable rejects with ConfigValidationError.
   */
  config?: AppConfig;
  /** Where the configuration is read from when `config` is absent. */
  env?: ConfigFromEnvironmentOptions;
  clock?: Clock;
  /** Where the JSON logs go (tests capture them to prove secrets never appear). Default: stdout. */
  logDestination?: DestinationStream;
  /**
   * A host's own Nest LoggerService, instead of the JSON logger: Nest's logs, every `new Logger(context)` of
   * the service and the request logs (method, URL, status and timing only) go to it.
   */
  logger?: LoggerService;
  /**
   * Checks every response against the served OpenAPI document and reports each mismatch (the e2e tests
   * fail on any; a staging run can log them). Off when absent.
   */
  onContractViolation?: (violation: ContractViolation) => void;
}

/**
 * Builds the application exactly as it runs in production; `main.ts` and every test call this.
 * The app is initialized but not listening.
 */
export async function createApp(options: CreateAppOptions): Promise<NestFastifyApplication> {
  const loaded = options.config ? { config: options.config, configModule: undefined } : await loadConfigFromEnvironment(options.env);
  const { config } = loaded;
  const pinoLogger = options.logger ? undefined : createPinoLogger(config.logLevel, options.logDestination);
  const logger: LoggerService = options.logger ?? new AppLogger(pinoLogger!);
  const adapter = new FastifyAdapter({
    loggerInstance: pinoLogger ?? fastifyLoggerFor(logger),
    // A request's pino child is made when it first logs, not for every request (see LazyRequestLogger).
    ...(pinoLogger ? { childLoggerFactory: lazyRequestLoggerFactory } : {}),
    bodyLimit: config.bodyLimitBytes,
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    // Off by default: with it, X-Forwarded-For names the client IP, which keys the per-IP rate limit.
    trustProxy: config.trustProxy,
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot({ config, configModule: loaded.configModule, clock: options.clock }), adapter, {
    logger,
    bufferLogs: false,
    abortOnError: false,
  });
  if (config.adminApiKeyIsDefault) {
    new Logger('Security').warn(`ADMIN_API_KEY is not set: using the development admin key, so the service listens on ${config.host} only. Never run production like this.`);
  }
  // First of all hooks: a request over capacity is turned away before it costs anything.
  registerLoadShedding(app.getHttpAdapter().getInstance(), config.maxInFlightRequests, app.get(MetricsService).httpInFlight);
  // Before any route exists: headers, rate limit and the route catalog must see every route.
  await registerHttpSecurity(app, config);
  const directRoutesInstalled = setupApp(app, options.onContractViolation);
  await app.init();
  directRoutesInstalled();
  await app.getHttpAdapter().getInstance().ready();
  return app;
}

/** Returns the check that every @DirectRoute was found among the routes (to call after `app.init()`). */
function setupApp(app: NestFastifyApplication, onContractViolation: CreateAppOptions['onContractViolation']): () => void {
  app.useGlobalPipes(
    new ValidationPipe({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      exceptionFactory: (errors) => validationFailed(flattenValidationErrors(errors)),
    }),
  );
  const filter = new AllExceptionsFilter();
  app.useGlobalFilters(filter);
  // The hottest routes skip Nest's per-request machinery, with the same guard, filter and (identity) pipe.
  const directRoutesInstalled = registerDirectRoutes(app, { guard: app.get(AuthGuard), filter });

  const fastify = app.getHttpAdapter().getInstance();
  const metrics = app.get(MetricsService);
  // Callback-style hooks: an async hook costs a promise per request, for work that never waits.
  fastify.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-request-id', request.id);
    done(null, payload);
  });
  // onResponse also sees 404, 413 and 429 answers, which never reach Nest. One label object per route/status.
  const httpLabels = new HttpLabelCache();
  fastify.addHook('onResponse', (request, reply, done) => {
    const labels = httpLabels.get(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode);
    metrics.httpRequests.inc(labels);
    metrics.httpDuration.observe(labels, reply.elapsedTime / 1000);
    done();
  });

  const document = buildOpenApiDocument(app);
  serveOpenApiDocument(app, document);
  if (onContractViolation) checkResponsesAgainst(fastify, document, onContractViolation);
  return directRoutesInstalled;
}
