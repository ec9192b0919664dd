import 'reflect-metadata';
import { createApp } from './app.setup';
import { APP_CONFIG, ConfigValidationError } from './config/app-config';
import type { AppConfig } from './config/app-config';

async function main(): Promise<void> {
  // @nestjs/config reads ./.env (the real environment wins) and validates everything before anything starts.
  const app = await createApp({ env: { envFilePath: '.env' } });
  await app.listen({ port: app.get<AppConfig>(APP_CONFIG).port, host: '0.0.0.0' });

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
