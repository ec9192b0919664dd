import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { Observable } from 'rxjs';
import { TrackUsage } from '@credit-metering/nest-client';
import type { StreamUsage } from '@credit-metering/nest-client';

interface StreamBody {
  prompt?: string;
  maxTokens?: number;
  /** Demo switch: the model fails after this many chunks. */
  failAfter?: number;
}

type Req = { body: StreamBody; headers: Record<string, string | string[] | undefined> };

interface Chunk {
  delta: string;
  outputTokens: number;
}

const CHUNK_TOKENS = 16;
/** What each route's model produced, and the last settled usage each was told (the tests read them). */
const produced: Record<string, number> = {};
const lastUsage: Record<string, StreamUsage> = {};
const inputTokens = (req: Pick<Req, 'body'>) => ({ inputTokens: Math.ceil((req.body.prompt ?? '').length / 4) });
const maxTokens = (body: StreamBody) => (Number.isInteger(body.maxTokens) && body.maxTokens! >= 1 && body.maxTokens! <= 2000 ? body.maxTokens! : 256);
const count = (c: Chunk) => ({ outputTokens: c.outputTokens });
/** The tenant to charge: the host's own notion of its caller (here a header; a real host reads its session). Unset: the key's organization. */
const organizationId = (req: { headers: Record<string, string | string[] | undefined> }) => {
  const tenant = req.headers['x-tenant'];
  return typeof tenant === 'string' ? tenant : undefined;
};

/**
 * A host's own streamed completions, metered by the service through the client package (the service's
 * docs/streaming.md): each route streams the same stand-in model in another shape (an async generator, an
 * Observable, a Node Readable, one that ends with a usage chunk as language-model APIs send) and under another
 * disconnect policy. The model here is a local stand-in: 16 tokens per chunk, a few milliseconds apart.
 */
@Controller('ai/stream')
export class StreamController {
  @Post()
  @HttpCode(200)
  @TrackUsage<Req>('llm_completion', {
    eventData: () => ({ model: 'example' }),
    organizationId,
    stream: { input: inputTokens, step: { outputTokens: 64 }, count, onUsage: (u) => (lastUsage.default = u) },
  })
  stream(@Body() body: StreamBody) {
    return this.model('default', body);
  }

  @Post('bill-all')
  @HttpCode(200)
  @TrackUsage<Req>('llm_completion', {
    eventData: () => ({ model: 'example' }),
    organizationId,
    stream: { input: inputTokens, step: { outputTokens: 64 }, count, onDisconnect: 'bill-all', onUsage: (u) => (lastUsage['bill-all'] = u) },
  })
  billAll(@Body() body: StreamBody) {
    // An Observable: unsubscribing (the client left, under a policy that cancels) stops the model.
    return new Observable<Chunk>((subscriber) => {
      const it = this.model('bill-all', body);
      let stopped = false;
      void (async () => {
        try {
          for await (const c of it) {
            if (stopped) return;
            subscriber.next(c);
          }
          subscriber.complete();
        } catch (error) {
          subscriber.error(error);
        }
      })();
      return () => {
        stopped = true;
      };
    });
  }

  @Post('void')
  @HttpCode(200)
  @TrackUsage<Req>('llm_completion', {
    eventData: () => ({ model: 'example' }),
    organizationId,
    stream: { input: inputTokens, step: { outputTokens: 64 }, count, onDisconnect: 'void', onUsage: (u) => (lastUsage.void = u) },
  })
  voided(@Body() body: StreamBody) {
    // A Node Readable of chunk objects.
    return Readable.from(this.model('void', body));
  }

  @Post('usage-chunk')
  @HttpCode(200)
  @TrackUsage<Req>('llm_completion', {
    eventData: () => ({ model: 'example' }),
    organizationId,
    // No per-chunk counter: the model's own last chunk says what it used, as language-model APIs do.
    stream: { input: inputTokens, step: { outputTokens: 64 }, usage: (c: { usage?: Record<string, number> }) => c.usage, onUsage: (u) => (lastUsage['usage-chunk'] = u) },
  })
  async *withUsageChunk(@Body() body: StreamBody) {
    let output = 0;
    for await (const c of this.model('usage-chunk', body)) {
      output += c.outputTokens;
      yield { delta: c.delta };
    }
    yield { usage: { inputTokens: inputTokens({ body }).inputTokens, outputTokens: output } };
  }

  @Get('stats')
  stats() {
    return { produced, usage: lastUsage };
  }

  /** The stand-in model: maxTokens output tokens in chunks of 16, 5 ms apart. */
  private async *model(route: string, body: StreamBody): AsyncGenerator<Chunk> {
    const max = maxTokens(body);
    for (let sent = 0, n = 0; sent < max; n++) {
      if (body.failAfter !== undefined && n >= body.failAfter) throw new Error('the model failed mid-stream');
      if (n > 0) await delay(5);
      const outputTokens = Math.min(CHUNK_TOKENS, max - sent);
      sent += outputTokens;
      produced[route] = (produced[route] ?? 0) + outputTokens;
      yield { delta: `token${n} `, outputTokens };
    }
  }
}
