import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiBadRequestResponse, ApiBody, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Scopes } from '../../common/auth/auth.decorators';
import { DirectRoute } from '../../common/http/direct-routes';
import { TrackUsage } from '../tracking/track-usage.decorator';
import { AiToolsService } from './ai-tools.service';
import { llmInputTokens, llmMaxTokens, llmStreamRequested, toolEventData } from './utils/stand-in-result';
import type { LlmStreamChunk } from './utils/stand-in-result';

/** `simulateFailure` is a demo switch, not part of what prices the event. */
const eventData = (req: { body?: unknown }) => toolEventData(req.body);
// Data transfers between tools need no enforcement: they are tracked asynchronously (never refused).
const BODY = { schema: { type: 'object', example: { inputText: 'Why does the build fail on Mondays?', complexity: 2, echo: true, simulateFailure: false } } };

@ApiTags('AI tools (metered)')
@Controller('api/structuring')
export class StructuringToolsController {
  constructor(private readonly tools: AiToolsService) {}

  @Post('diagnose')
  @HttpCode(200)
  @TrackUsage('structuring_diagnose', { eventData })
  @ApiOperation({ summary: 'Stand-in AI tool, metered as structuring_diagnose' })
  @ApiBody(BODY)
  diagnose(@Body() body: Record<string, unknown>) {
    return this.tools.run('structuring_diagnose', body);
  }

  @Post('generate-solution')
  @HttpCode(200)
  @TrackUsage('structuring_generate_solution', { eventData })
  @ApiOperation({ summary: 'Stand-in AI tool, metered as structuring_generate_solution' })
  @ApiBody(BODY)
  generateSolution(@Body() body: Record<string, unknown>) {
    return this.tools.run('structuring_generate_solution', body);
  }
}

@ApiTags('AI tools (metered)')
@Controller('api/visuals')
export class VisualsToolsController {
  constructor(private readonly tools: AiToolsService) {}

  @Post('planning')
  @HttpCode(200)
  @TrackUsage('visuals_planning', { eventData })
  @ApiOperation({ summary: 'Stand-in AI tool, metered as visuals_planning' })
  @ApiBody(BODY)
  planning(@Body() body: Record<string, unknown>) {
    return this.tools.run('visuals_planning', body);
  }

  @Post('sketch')
  @HttpCode(200)
  @TrackUsage('visuals_sketch', { eventData })
  @ApiOperation({ summary: 'Stand-in AI tool, metered as visuals_sketch' })
  @ApiBody(BODY)
  sketch(@Body() body: Record<string, unknown>) {
    return this.tools.run('visuals_sketch', body);
  }
}

@ApiTags('AI tools (metered)')
@Controller('api/solutioning')
export class SolutioningToolsController {
  constructor(private readonly tools: AiToolsService) {}

  @Post('image-analysis')
  @HttpCode(200)
  @TrackUsage('solutioning_image_analysis', { eventData })
  @ApiOperation({ summary: 'Stand-in AI tool, metered as solutioning_image_analysis' })
  @ApiBody(BODY)
  imageAnalysis(@Body() body: Record<string, unknown>) {
    return this.tools.run('solutioning_image_analysis', body);
  }

  @Post('ai-enhance')
  @HttpCode(200)
  @TrackUsage('solutioning_ai_enhance', { eventData })
  @ApiOperation({ summary: 'Stand-in AI tool, metered as solutioning_ai_enhance' })
  @ApiBody(BODY)
  aiEnhance(@Body() body: Record<string, unknown>) {
    return this.tools.run('solutioning_ai_enhance', body);
  }

  @Post('structure-solution')
  @HttpCode(200)
  @TrackUsage('solutioning_structure_solution', { eventData })
  @ApiOperation({ summary: 'Stand-in AI tool, metered as solutioning_structure_solution' })
  @ApiBody(BODY)
  structureSolution(@Body() body: Record<string, unknown>) {
    return this.tools.run('solutioning_structure_solution', body);
  }

  @Post('node-stack')
  @HttpCode(200)
  @TrackUsage('solutioning_node_stack', { eventData })
  @ApiOperation({ summary: 'Stand-in AI tool, metered as solutioning_node_stack' })
  @ApiBody(BODY)
  nodeStack(@Body() body: Record<string, unknown>) {
    return this.tools.run('solutioning_node_stack', body);
  }

  @Post('formatting')
  @HttpCode(200)
  @TrackUsage('solutioning_formatting', { eventData })
  @ApiOperation({ summary: 'Stand-in AI tool, metered as solutioning_formatting' })
  @ApiBody(BODY)
  formatting(@Body() body: Record<string, unknown>) {
    return this.tools.run('solutioning_formatting', body);
  }

  @Post('hyper-canvas')
  @HttpCode(200)
  @TrackUsage('solutioning_hyper_canvas', { eventData })
  @ApiOperation({ summary: 'Stand-in AI tool, metered as solutioning_hyper_canvas' })
  @ApiBody(BODY)
  hyperCanvas(@Body() body: Record<string, unknown>) {
    return this.tools.run('solutioning_hyper_canvas', body);
  }
}

@ApiTags('AI tools (metered)')
@Controller('api/push')
export class PushToolsController {
  constructor(private readonly tools: AiToolsService) {}

  @Post('structuring-to-visuals')
  @HttpCode(200)
  @DirectRoute()
  @TrackUsage('push_structuring_to_visuals', { eventData, mode: 'async' })
  @ApiOperation({ summary: 'Stand-in AI tool, metered as push_structuring_to_visuals' })
  @ApiBody(BODY)
  structuringToVisuals(@Body() body: Record<string, unknown>) {
    return this.tools.run('push_structuring_to_visuals', body);
  }

  @Post('visuals-to-solutioning')
  @HttpCode(200)
  @DirectRoute()
  @TrackUsage('push_visuals_to_solutioning', { eventData, mode: 'async' })
  @ApiOperation({ summary: 'Stand-in AI tool, metered as push_visuals_to_solutioning' })
  @ApiBody(BODY)
  visualsToSolutioning(@Body() body: Record<string, unknown>) {
    return this.tools.run('push_visuals_to_solutioning', body);
  }

  @Post('solutioning-to-sow')
  @HttpCode(200)
  @DirectRoute()
  @TrackUsage('push_solutioning_to_sow', { eventData, mode: 'async' })
  @ApiOperation({ summary: 'Stand-in AI tool, metered as push_solutioning_to_sow' })
  @ApiBody(BODY)
  solutioningToSow(@Body() body: Record<string, unknown>) {
    return this.tools.run('push_solutioning_to_sow', body);
  }

  @Post('sow-to-loe')
  @HttpCode(200)
  @DirectRoute()
  @TrackUsage('push_sow_to_loe', { eventData, mode: 'async' })
  @ApiOperation({ summary: 'Stand-in AI tool, metered as push_sow_to_loe' })
  @ApiBody(BODY)
  sowToLoe(@Body() body: Record<string, unknown>) {
    return this.tools.run('push_sow_to_loe', body);
  }
}

@ApiTags('AI tools (metered)')
@Controller('api/export')
export class ExportToolsController {
  constructor(private readonly tools: AiToolsService) {}

  @Post('pdf')
  @HttpCode(200)
  @TrackUsage('export_pdf', { eventData })
  @ApiOperation({ summary: 'Stand-in AI tool, metered as export_pdf' })
  @ApiBody(BODY)
  pdf(@Body() body: Record<string, unknown>) {
    return this.tools.run('export_pdf', body);
  }
}

type LlmBody = { prompt?: unknown; maxTokens?: unknown; model?: unknown };
const llmBody = (req: { body?: unknown }): Record<string, unknown> => (typeof req.body === 'object' && req.body !== null && !Array.isArray(req.body) ? (req.body as Record<string, unknown>) : {});

@ApiTags('AI tools (metered)')
@Controller('api/llm')
export class LlmToolsController {
  constructor(private readonly tools: AiToolsService) {}

  /**
   * Priced by tokens: the hold is the prompt's tokens plus maxTokens of output (the estimate);
   * the commit charges the tokens the completion reports. The prompt is not kept in the event's data.
   */
  @Post('complete')
  @HttpCode(200)
  @TrackUsage('llm_completion', {
    eventData: (req) => {
      const model = (llmBody(req) as LlmBody).model;
      return typeof model === 'string' ? { model: model.slice(0, 64) } : {};
    },
    estimate: (req) => ({ inputTokens: llmInputTokens(llmBody(req)), outputTokens: llmMaxTokens(llmBody(req)) }),
    // `tokens`, not `usage`: the interceptor puts the metering envelope under `usage`.
    units: (result) => (result as { tokens: { inputTokens: number; outputTokens: number } }).tokens,
    // `"stream": true`: Server-Sent Events, held for the prompt and 256 output tokens at a time, charged for
    // the tokens delivered (docs/streaming.md).
    stream: {
      when: (req) => llmStreamRequested(llmBody(req)),
      input: (req) => ({ inputTokens: llmInputTokens(llmBody(req)) }),
      step: { outputTokens: 256 },
      count: (chunk: LlmStreamChunk) => ({ outputTokens: chunk.outputTokens }),
    },
  })
  @ApiOperation({ summary: 'Stand-in language model, metered as llm_completion by its input and output tokens' })
  @ApiOkResponse({
    description: 'The completion, its token usage, and what it was charged (`usage`); with `"stream": true`, Server-Sent Events: `data:` chunks {delta, outputTokens}, then an event `usage` {creditsConsumed, units, stopReason} (docs/streaming.md)',
    content: { 'application/json': {}, 'text/event-stream': { schema: { type: 'string' } } },
  })
  @ApiBadRequestResponse({ description: 'VALIDATION_FAILED: the quantities the completion reported do not price (nothing charged)' })
  @ApiBody({ schema: { type: 'object', example: { prompt: 'Summarize the incident report in three bullet points.', maxTokens: 300, model: 'stand-in-1', stream: false } } })
  complete(@Body() body: Record<string, unknown>) {
    return this.tools.completion(body);
  }
}

export const AI_TOOL_CONTROLLERS = [StructuringToolsController, VisualsToolsController, SolutioningToolsController, PushToolsController, ExportToolsController, LlmToolsController];

/**
 * The untracked twin of one metered route, for the tracking-overhead benchmark only (BENCH_ROUTES=true): the
 * same auth, body and handler without @TrackUsage, so the ratio measures exactly what metering costs.
 */
@ApiTags('AI tools (metered)')
@Controller('api/untracked')
export class UntrackedBenchController {
  constructor(private readonly tools: AiToolsService) {}

  @Post('visuals/planning')
  @HttpCode(200)
  @ApiOperation({ summary: 'The untracked twin of POST /api/visuals/planning, for the tracking-overhead benchmark (BENCH_ROUTES=true)' })
  @Scopes('track')
  planning(@Body() body: Record<string, unknown>) {
    return this.tools.run('visuals_planning', body);
  }
}
