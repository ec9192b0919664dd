import 'reflect-metadata';
import { afterEach, describe, expect, it } from '@jest/globals';
import { ArgumentsHost, Body, CanActivate, Catch, Controller, ExceptionFilter, ExecutionContext, HttpCode, Module, Param, Post, Req, Res, UseInterceptors, ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { IsString } from 'class-validator';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { of } from 'rxjs';
import { DirectRoute, registerDirectRoutes } from './direct-routes';

class Guard implements CanActivate {
  seen: Array<{ handler: string; type: string }> = [];
  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    this.seen.push({ handler: context.getHandler().name, type: context.getType() });
    const header = context.switchToHttp().getRequest<FastifyRequest>().headers['x-allow'];
    if (header === 'later') return Promise.resolve(true);
    if (header === 'no') throw new Error('refused by the guard');
    return header === 'yes';
  }
}

@Catch()
class Filter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    void host.switchToHttp().getResponse<FastifyReply>().status(418).send({ caught: (exception as Error).message });
  }
}

@Controller('things/:id')
class ThingsController {
  @Post('notes')
  @DirectRoute()
  note(@Param('id') id: string, @Body() body: unknown, @Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    if ((body as { fail?: boolean }).fail) throw new Error('the handler failed');
    reply.header('x-handled', request.method);
    return Promise.resolve({ id, body });
  }

  @Post('plain')
  @HttpCode(200)
  @DirectRoute()
  plain(@Body('name') name: unknown) {
    return { name };
  }
}

class NoteDto {
  @IsString()
  text!: string;
}

@Controller('validated')
class ValidatedController {
  @Post()
  @DirectRoute()
  create(@Body() body: NoteDto) {
    return body;
  }
}

@Controller('intercepted')
class InterceptedController {
  @Post()
  @DirectRoute()
  @UseInterceptors({ intercept: () => of(1) })
  create() {
    return {};
  }
}

async function appWith(controller: new () => unknown) {
  @Module({ controllers: [controller] })
  class TestModule {}
  const app = await NestFactory.create<NestFastifyApplication>(TestModule, new FastifyAdapter(), { logger: false });
  app.useGlobalPipes(new ValidationPipe({ whitelist: true, transform: true }));
  const guard = new Guard();
  try {
    const installed = registerDirectRoutes(app, { guard, filter: new Filter() });
    await app.init();
    installed();
    await app.getHttpAdapter().getInstance().ready();
  } catch (error) {
    await app.close();
    throw error;
  }
  return { app, guard, fastify: app.getHttpAdapter().getInstance() };
}

describe('@DirectRoute', () => {
  let app: NestFastifyApplication | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('runs the guard, the handler with its arguments and the route status, and the filter on any error', async () => {
    const made = await appWith(ThingsController);
    app = made.app;
    const post = (url: string, allow: string, payload: unknown) => made.fastify.inject({ method: 'POST', url, headers: { 'x-allow': allow }, payload: payload as object });

    const ok = await post('/things/t1/notes', 'yes', { a: 1 });
    expect([ok.statusCode, ok.json(), ok.headers['x-handled']]).toEqual([201, { id: 't1', body: { a: 1 } }, 'POST']);
    expect(made.guard.seen.at(-1)).toEqual({ handler: 'note', type: 'http' });
    expect((await post('/things/t1/notes', 'later', { a: 2 })).statusCode).toBe(201);
    expect((await post('/things/t1/plain', 'yes', { name: 'n' })).json()).toEqual({ name: 'n' });
    expect((await post('/things/t1/plain', 'yes', { name: 'n' })).statusCode).toBe(200);

    // The guard saying no is Nest's ForbiddenException; a throw of the guard or the handler reaches the filter as it is.
    expect((await post('/things/t1/notes', 'nope', {})).json()).toEqual({ caught: 'Forbidden resource' });
    expect((await post('/things/t1/notes', 'no', {})).json()).toEqual({ caught: 'refused by the guard' });
    const failed = await post('/things/t1/notes', 'yes', { fail: true });
    expect([failed.statusCode, failed.json()]).toEqual([418, { caught: 'the handler failed' }]);
    // An empty path parameter is not found, as through Nest's Fastify adapter.
    expect((await post('/things//notes', 'yes', {})).statusCode).toBe(404);
  });

  it('refuses at startup a route whose body the global ValidationPipe would validate', async () => {
    await expect(appWith(ValidatedController)).rejects.toThrow(/ValidatedController.create: a validated @Body\(\) is not supported/);
  });

  it('refuses at startup an interceptor without a direct form', async () => {
    await expect(appWith(InterceptedController)).rejects.toThrow(/InterceptedController.create: an interceptor without a direct form/);
  });
});
