import { createHash } from 'node:crypto';

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
