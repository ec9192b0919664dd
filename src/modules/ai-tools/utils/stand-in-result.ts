import { createHash } from 'node:crypto';
import { validationFailed } from '../../../common/errors/domain-error';

/**
 * A deterministic stand-in for the AI tool's output (the AI itself is out of scope): the same input always
 * gives the same result, so examples and tests can assert on it.
 */
/** What a stand-in AI tool answers (a metered route adds `usage`). */
export interface ToolOutput {
  tool: string;
  output: { id: string; summary: string; score: number };
}

export function standInResult(tool: string, input: Record<string, unknown>): ToolOutput {
  const digest = createHash('sha256').update(`${tool}:${JSON.stringify(input)}`).digest('hex');
  const text = typeof input.inputText === 'string' ? input.inputText : '';
  return {
    tool,
    output: {
      id: digest.slice(0, 16),
      summary: `${tool} processed ${text.length} characters`,
      score: parseInt(digest.slice(0, 4), 16) % 100,
    },
  };
}

/** The request body minus the demo-only switch; it is what prices the event. */
export function toolEventData(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return {};
  const { simulateFailure: _ignored, ...rest } = body as Record<string, unknown>;
  return rest;
}

/**
 * A stand-in language-model completion: the tokens it "used" are known only after it ran, like a real
 * model's usage report. Input tokens are the prompt's length / 4 (rounded up); output tokens a
 * deterministic count up to maxTokens.
 */
export function standInCompletion(body: unknown): { model: string; text: string; tokens: { inputTokens: number; outputTokens: number } } {
  const b = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  const prompt = typeof b.prompt === 'string' ? b.prompt : '';
  const maxTokens = llmMaxTokens(b);
  const model = typeof b.model === 'string' ? b.model.slice(0, 64) : 'stand-in-1';
  const digest = createHash('sha256').update(`${model}:${prompt}`).digest();
  const outputTokens = Math.min(maxTokens, 16 + (digest.readUInt16BE(0) % 512));
  return { model, text: `stand-in completion of ${prompt.length} characters`, tokens: { inputTokens: llmInputTokens(b), outputTokens } };
}

/** The prompt's tokens as the stand-in counts them (known before the call: the estimate uses it too). */
export function llmInputTokens(body: Record<string, unknown>): number {
  return Math.ceil((typeof body.prompt === 'string' ? body.prompt.length : 0) / 4);
}

/** maxTokens from the body: a whole number from 1 to 2,000 (default 256), the most the completion may use. */
export function llmMaxTokens(body: Record<string, unknown>): number {
  const m = body.maxTokens;
  return typeof m === 'number' && Number.isInteger(m) && m >= 1 && m <= 2000 ? m : 256;
}

/** The most output tokens a completion may ask for (`maxTokens`). */
export const LLM_MAX_TOKENS = 2000;

/** Output tokens per streamed `data:` event of the stand-in. */
export const LLM_STREAM_CHUNK_TOKENS = 16;

/**
 * Whether the request asks for a streamed answer. A streamed request is checked before anything is held:
 * maxTokens outside 1..2,000 is a 400 (a plain request keeps its lenient default of 256).
 */
export function llmStreamRequested(body: Record<string, unknown>): boolean {
  if (body.stream !== true) return false;
  const m = body.maxTokens;
  if (m !== undefined && !(typeof m === 'number' && Number.isInteger(m) && m >= 1 && m <= LLM_MAX_TOKENS)) {
    throw validationFailed({ maxTokens: [`maxTokens must be a whole number from 1 to ${LLM_MAX_TOKENS}`] });
  }
  return true;
}

/** One `data:` event of the stand-in's stream. */
export interface LlmStreamChunk {
  delta: string;
  outputTokens: number;
}

/** The stand-in's streamed completion: maxTokens output tokens in events of 16 (the last one the rest), `wait` apart. */
export async function* standInCompletionStream(body: Record<string, unknown>, wait: () => Promise<void>): AsyncGenerator<LlmStreamChunk, void, undefined> {
  const maxTokens = llmMaxTokens(body);
  const words = ['the', 'stand-in', 'model', 'streams', 'tokens', 'in', 'steps', 'of', 'sixteen'];
  for (let sent = 0, n = 0; sent < maxTokens; n++) {
    const outputTokens = Math.min(LLM_STREAM_CHUNK_TOKENS, maxTokens - sent);
    sent += outputTokens;
    if (n > 0) await wait();
    yield { delta: `${words[n % words.length]} `, outputTokens };
  }
}
