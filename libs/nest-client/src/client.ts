// The client alone, with no Nest import: `import { UsageClient } from '@credit-metering/nest-client/client'`.
export { UsageClient } from './usage-client';
export type { KeyCheck, KeyIdentity, OrganizationOption, RunOption, UsageClientOptions, UsageEventInput } from './usage-client';
export { isMeteringError, MeteringError, MeteringUnavailableError } from './metering-error';
export { UsageJournal } from './usage-journal';
export type { JournalEntry } from './usage-journal';
export { DeferredDelivery } from './deferred-delivery';
export type { DeliveryReport } from './deferred-delivery';
export * from '../../contracts/src/error-codes';
export * from '../../contracts/src/tracking.types';
// MCP tool calls (no import of @modelcontextprotocol/sdk: the adapter reads the SDK's objects by their shape).
export { keyOf as mcpIdempotencyKey, MCP_ERROR_META, MCP_REPLAYED_META, MCP_USAGE_META, MeteredMcpTools } from './metered-mcp-tools';
export type { McpMeteringErrorResult, McpRequestExtra, McpServerLike, McpSession, McpToolMeter, McpToolResult, McpUnits, MeteredMcpToolsOptions } from './metered-mcp-tools';
