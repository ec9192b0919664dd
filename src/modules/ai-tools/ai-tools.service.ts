import { Inject, Injectable, Optional } from '@nestjs/common';
import { setTimeout as delay } from 'node:timers/promises';
import { APP_CONFIG } from '../../config/app-config';
import type { AppConfig } from '../../config/app-config';
import { DomainError } from '../../common/errors/domain-error';
import { standInCompletion, standInCompletionStream, standInResult, type ToolOutput, toolEventData } from './utils/stand-in-result';
import type { LlmStreamChunk } from './utils/stand-in-result';

@Injectable()
export class AiToolsService {
  constructor(@Optional() @Inject(APP_CONFIG) private readonly config?: AppConfig) {}

  /** POST /api/llm/complete: one JSON answer, or a stream of chunks when the body says `"stream": true`. */
  completion(body: unknown): ReturnType<AiToolsService['complete']> | AsyncGenerator<LlmStreamChunk, void, undefined> {
    // Any body reaches here (null, a list): only an object can ask for a stream.
    const streamed = typeof body === 'object' && body !== null && !Array.isArray(body) && (body as Record<string, unknown>).stream === true;
    return streamed ? this.completeStream(body as Record<string, unknown>) : this.complete(body);
  }

  /** Runs the stand-in tool; `simulateFailure: true` fails it, to show that a failed call is not charged. */
  run(tool: string, body: unknown): ToolOutput {
    if (typeof body === 'object' && body !== null && (body as Record<string, unknown>).simulateFailure === true) {
      throw new DomainError('SERVICE_UNAVAILABLE', `${tool} failed (simulated): nothing was charged`, { tool });
    }
    return standInResult(tool, toolEventData(body));
  }

  /** The stand-in language model; `simulateFailure: true` fails it (nothing is charged, the hold goes back). */
  complete(body: unknown): ReturnType<typeof standInCompletion> {
    if (typeof body === 'object' && body !== null && (body as Record<string, unknown>).simulateFailure === true) {
      throw new DomainError('SERVICE_UNAVAILABLE', 'llm_completion failed (simulated): nothing was charged', { tool: 'llm_completion' });
    }
    return standInCompletion(body);
  }

  /**
   * The stand-in language model, streamed: 16 output tokens per chunk, LLM_STREAM_CHUNK_MS apart.
   * `simulateFailureAfter: n` fails it after n chunks (a model that breaks mid-answer).
   */
  async *completeStream(body: Record<string, unknown>): AsyncGenerator<LlmStreamChunk, void, undefined> {
    const failAfter = typeof body.simulateFailureAfter === 'number' ? body.simulateFailureAfter : undefined;
    let n = 0;
    for await (const chunk of standInCompletionStream(body, () => delay(this.config?.llmStreamChunkMs ?? 5))) {
      if (failAfter !== undefined && n++ >= failAfter) throw new DomainError('SERVICE_UNAVAILABLE', 'llm_completion failed mid-stream (simulated)', { tool: 'llm_completion' });
      yield chunk;
    }
  }
}
