import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';

/**
 * `PLATFORM=fastify` runs the very same module on Fastify; Nest's default is Express. On Fastify the
 * connections still open when the app closes (a client that left a stream) are closed with it.
 */
async function main(): Promise<void> {
  const app =
    process.env.PLATFORM === 'fastify'
      ? await NestFactory.create(AppModule, new (await import('@nestjs/platform-fastify')).FastifyAdapter({ forceCloseConnections: true }), { logger: ['error', 'warn'] })
      : await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
  app.enableShutdownHooks();
  await app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1');
}

void main();
