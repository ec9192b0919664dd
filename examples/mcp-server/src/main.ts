import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { MeteringError, UsageClient } from '@credit-metering/nest-client/client';
import type { ErrorBody } from '@credit-metering/nest-client/client';
import { createExampleServer } from './server';

/**
 * The example over stdio, as an MCP client (an agent, an IDE) starts it. METERING_URL and METERING_API_KEY
 * (an organization key with the `track` scope); METERING_ORGANIZATION_ID to name the organization (default
 * the key's). The session as a run: METERING_RUN_ID charges every call to a run the agent opened; or
 * METERING_RUN_BUDGET opens a run of that budget for the session on its first call.
 */
async function main(): Promise<void> {
  const baseUrl = process.env.METERING_URL!;
  const apiKey = process.env.METERING_API_KEY!;
  const usage = new UsageClient({ baseUrl, apiKey, organizationId: process.env.METERING_ORGANIZATION_ID || undefined });
  const budget = process.env.METERING_RUN_BUDGET;
  const runId = process.env.METERING_RUN_ID
    ? () => process.env.METERING_RUN_ID
    : budget
      ? async () => {
          const res = await fetch(`${baseUrl}/api/organizations/${encodeURIComponent(await usage.organizationId())}/runs`, {
            method: 'POST',
            headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
            body: JSON.stringify({ budgetCredits: budget, label: 'mcp session' }),
          });
          const body = (await res.json()) as { id: string } & ErrorBody;
          if (!res.ok) throw new MeteringError(res.status, body);
          return body.id;
        }
      : undefined;
  await createExampleServer(usage, { runId }).connect(new StdioServerTransport());
}

void main();
