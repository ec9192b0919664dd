import { describe, expect, it, jest } from '@jest/globals';
import { Writable } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import { createPinoLogger, lazyRequestLoggerFactory } from './logger';

function capture(level: 'info' | 'warn') {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger = createPinoLogger(level, stream);
  return { logger, lines };
}

describe('lazyRequestLoggerFactory', () => {
  it('writes the same line as a pino child (bindings, redaction) when the level is enabled', () => {
    const { logger, lines } = capture('info');
    const lazy = lazyRequestLoggerFactory(logger as unknown as FastifyBaseLogger, { reqId: 'r-1' }, {});
    // The request serializer keeps the method and the URL (its tokens redacted), never the headers.
    const req = { method: 'GET', url: '/u?token=nxp_secret', headers: { authorization: 'Bearer secret' } };
    lazy.info({ req, authorization: 'Bearer secret' }, 'incoming request');
    logger.child({ reqId: 'r-1' }).info({ req, authorization: 'Bearer secret' }, 'incoming request');
    expect(lines).toHaveLength(2);
    const [a, b] = lines.map(({ time: _t, ...rest }) => rest);
    expect(a).toEqual(b);
    expect(a).toMatchObject({ reqId: 'r-1', msg: 'incoming request', authorization: '[redacted]', req: { method: 'GET', url: '/u?token=[redacted]' } });
    expect(JSON.stringify(lines)).not.toContain('secret');
  });

  it('makes no pino child for a request that logs nothing at the enabled level', () => {
    const { logger, lines } = capture('warn');
    const child = jest.spyOn(logger, 'child');
    const lazy = lazyRequestLoggerFactory(logger as unknown as FastifyBaseLogger, { reqId: 'r-2' }, {});
    lazy.info({ res: {} }, 'request completed');
    expect(child).not.toHaveBeenCalled();
    expect(lines).toHaveLength(0);
    lazy.error({ err: { message: 'boom' } }, 'boom');
    expect(child).toHaveBeenCalledTimes(1);
    expect(lines).toEqual([expect.objectContaining({ reqId: 'r-2', level: 50, msg: 'boom' })]);
    expect(lazy.level).toBe('warn');
  });

  it("uses pino's own child when the route passes options (a route logLevel)", () => {
    const { logger, lines } = capture('warn');
    const lazy = lazyRequestLoggerFactory(logger as unknown as FastifyBaseLogger, { reqId: 'r-3' }, { level: 'info' });
    lazy.info('route at info');
    expect(lines).toEqual([expect.objectContaining({ reqId: 'r-3', msg: 'route at info' })]);
  });
});
