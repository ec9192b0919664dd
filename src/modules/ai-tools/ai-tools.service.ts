import { Injectable } from '@nestjs/common';
import { DomainError } from '../../common/errors/domain-error';
import { standInCompletion, standInResult, type ToolOutput, toolEventData } from './utils/stand-in-result';

@Injectable()
export class AiToolsService {
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
}
