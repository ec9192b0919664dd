import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { createApp } from './app.setup';
import { ConfigValidationError, loadConfig } from './config/app-config';

async function main(): Promise<void> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  const config = loadConfig(process.env);
  const app = await createApp({ config });
  await app.listen({ port: config.port, host: '0.0.0.0' });
}

main().catch((error: unknown) => {
  // A bad environment or a locked data folder is a message for a person, not a stack trace.
  const message = error instanceof ConfigValidationError || (error as Error)?.name === 'DataDirLockedError' ? (error as Error).message : error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`Failed to start: ${message}\n`);
  process.exit(1);
});
