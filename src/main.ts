import 'reflect-metadata';
import { createApp } from './app.setup';
import { startupBanner } from './common/logging/banner';
import { APP_CONFIG, ConfigValidationError, ownOrigin } from './config/app-config';
import type { AppConfig } from './config/app-config';

async function main(): Promise<void> {
  // @nestjs/config reads ./.env (the real environment wins) and validates everything before anything starts.
  const app = await createApp({ env: { envFilePath: '.env' } });
  const config = app.get<AppConfig>(APP_CONFIG);
  // HOST, except with the development key: then 127.0.0.1 whatever HOST says (see loadConfig).
  await app.listen({ port: config.port, host: config.host });

  const address = app.getHttpServer().address();
  const port = address && typeof address === 'object' ? address.port : config.port;
  // PORT=0 binds a free port: the banner names the real one unless PUBLIC_URL was given.
  const origin = config.publicUrl === ownOrigin(config.host, config.port) ? ownOrigin(config.host, port) : config.publicUrl;
  if (config.logLevel !== 'silent') process.stdout.write(`${startupBanner(config, origin, `${config.host}:${port}`).join('\n')}\n`);

  // SIGTERM/SIGINT: stop accepting, finish in-flight requests, flush asynchronous events, close the
  // database, then exit 0. A shutdown that hangs is cut after 30 s (exit 1).
  let closing = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    setTimeout(() => {
      process.stderr.write(`Shutdown after ${signal} took longer than 30 s; exiting\n`);
      process.exit(1);
    }, 30_000).unref();
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`Shutdown failed: ${(error as Error)?.stack ?? String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

main().catch((error: unknown) => {
  // A bad environment or a locked data folder is a message for a person, not a stack trace.
  const message = error instanceof ConfigValidationError || (error as Error)?.name === 'DataDirLockedError' ? (error as Error).message : error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`Failed to start: ${message}\n`);
  process.exit(1);
});
