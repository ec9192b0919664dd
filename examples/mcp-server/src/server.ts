import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { MeteredMcpTools, UsageClient } from '@credit-metering/nest-client/client';
import type { McpSession } from '@credit-metering/nest-client/client';
import { z } from 'zod';

export interface ExampleServerOptions {
  /** The agent run a session's calls are charged to (sent as X-Run-Id); none by default. */
  runId?: (session: McpSession) => string | undefined | Promise<string | undefined>;
}

/**
 * An MCP server with three metered tools and one free one:
 *
 * - `diagnose` -> `structuring_diagnose`, priced by the complexity the caller asks for (10 credits x 1 to 2.5);
 * - `complete` -> `llm_completion`, held at the prompt's tokens plus `maxTokens`, charged at the tokens it
 *   really produced (read from its result);
 * - `export_pdf` -> `export_pdf` (2 credits), which fails on an empty title: a failed call is not charged;
 * - `tool_runs` is not metered: how many times each tool ran in this process.
 */
export function createExampleServer(usage: UsageClient, options: ExampleServerOptions = {}): McpServer {
  const server = new McpServer({ name: 'metered-example', version: '0.1.0' });
  const metering = new MeteredMcpTools(server, usage, { runId: options.runId });
  const runs: Record<string, number> = { diagnose: 0, complete: 0, export_pdf: 0 };

  server.registerTool(
    'diagnose',
    { description: 'Diagnose a problem statement', inputSchema: { text: z.string(), complexity: z.number().min(1).max(2.5).optional() } },
    metering.tool({ eventType: 'structuring_diagnose', eventData: ({ complexity }) => ({ complexity: complexity ?? 1 }) }, async ({ text }) => {
      runs.diagnose++;
      return { content: [{ type: 'text', text: `diagnosis of "${text}": looks fine` }] };
    }),
  );

  server.registerTool(
    'complete',
    {
      description: 'Complete a prompt (a stand-in model: one output token per prompt character, up to maxTokens)',
      inputSchema: { prompt: z.string().min(1), maxTokens: z.number().int().min(1).max(2000).default(256) },
      outputSchema: { text: z.string(), inputTokens: z.number().int(), outputTokens: z.number().int() },
    },
    metering.tool(
      {
        eventType: 'llm_completion',
        // The hold: what the call may use at most. The charge: what it used.
        estimate: ({ prompt, maxTokens }) => ({ inputTokens: inputTokensOf(prompt), outputTokens: maxTokens }),
        units: (result) => {
          const { inputTokens, outputTokens } = result.structuredContent as Completion;
          return { inputTokens, outputTokens };
        },
      },
      async ({ prompt, maxTokens }) => {
        runs.complete++;
        const outputTokens = Math.min(maxTokens, prompt.length);
        const answer: Completion = { text: 'x'.repeat(outputTokens), inputTokens: inputTokensOf(prompt), outputTokens };
        return { content: [{ type: 'text', text: answer.text }], structuredContent: answer };
      },
    ),
  );

  server.registerTool(
    'export_pdf',
    { description: 'Export a document as PDF', inputSchema: { title: z.string() } },
    metering.tool({ eventType: 'export_pdf' }, async ({ title }) => {
      runs.export_pdf++;
      if (title.trim() === '') throw new Error('the renderer needs a title');
      return { content: [{ type: 'text', text: `${title}.pdf (1 page)` }] };
    }),
  );

  server.registerTool('tool_runs', { description: 'How many times each metered tool ran (not metered)' }, async () => ({
    content: [{ type: 'text', text: JSON.stringify(runs) }],
    structuredContent: { ...runs },
  }));

  return server;
}

type Completion = { text: string; inputTokens: number; outputTokens: number };

/** The stand-in model's tokenizer: four characters a token. */
function inputTokensOf(prompt: string): number {
  return Math.ceil(prompt.length / 4);
}
