import type { EventDefinitionConfig } from '../src/modules/events/entities/event-definition.entity';
import type { PlanDefinitionConfig } from '../src/modules/plans/entities/plan-definition.entity';

/** The seed catalogue (docs/catalogue.md), with an LLM call priced by its tokens: the catalogue loaded on first start and by `npm run seed`. */

type SeedEvent = { eventType: string } & EventDefinitionConfig;
type SeedPlan = { name: string } & PlanDefinitionConfig;

function aiEvent(
  eventType: string,
  displayName: string,
  description: string,
  category: string,
  baseCredits: number,
  complexity: [number, number],
  endpoint: string,
  features: Record<string, number> = {},
): SeedEvent {
  return {
    eventType,
    displayName,
    description,
    category,
    baseCredits,
    endpoint,
    multipliers: { complexity: { min: complexity[0], max: complexity[1] }, features },
    limitKey: 'aiCallsPerMonth',
    metadata: {},
  };
}

function flatEvent(eventType: string, displayName: string, description: string, category: string, baseCredits: number, endpoint: string, limitKey: string | null = null): SeedEvent {
  return {
    eventType,
    displayName,
    description,
    category,
    baseCredits,
    endpoint,
    multipliers: { complexity: null, features: {} },
    limitKey,
    metadata: {},
  };
}

const STRUCTURING_FEATURES = { echo: 5, traceback: 3 };

export const SEED_EVENTS: SeedEvent[] = [
  aiEvent('structuring_diagnose', 'Structuring: Diagnose', 'AI diagnosis of a problem statement', 'ai_analysis', 10, [1.0, 2.5], '/api/structuring/diagnose', STRUCTURING_FEATURES),
  aiEvent('structuring_generate_solution', 'Structuring: Generate solution', 'AI-generated solution for a diagnosed problem', 'ai_analysis', 15, [1.0, 3.0], '/api/structuring/generate-solution', STRUCTURING_FEATURES),
  aiEvent('visuals_planning', 'Visuals: Planning', 'AI planning of a visual layout', 'ai_visual', 8, [1.0, 2.0], '/api/visuals/planning'),
  aiEvent('visuals_sketch', 'Visuals: Sketch', 'AI sketch generation', 'ai_visual', 12, [1.0, 2.5], '/api/visuals/sketch'),
  aiEvent('solutioning_image_analysis', 'Solutioning: Image analysis', 'AI analysis of an uploaded image', 'ai_solutioning', 12, [1.0, 2.0], '/api/solutioning/image-analysis'),
  aiEvent('solutioning_ai_enhance', 'Solutioning: AI enhance', 'AI enhancement of a solution draft', 'ai_solutioning', 8, [1.0, 2.0], '/api/solutioning/ai-enhance'),
  aiEvent('solutioning_structure_solution', 'Solutioning: Structure solution', 'AI structuring of a solution', 'ai_solutioning', 10, [1.0, 2.5], '/api/solutioning/structure-solution'),
  aiEvent('solutioning_node_stack', 'Solutioning: Node stack', 'AI generation of a node stack', 'ai_solutioning', 6, [1.0, 2.0], '/api/solutioning/node-stack'),
  aiEvent('solutioning_formatting', 'Solutioning: Formatting', 'AI formatting of a solution', 'ai_solutioning', 3, [1.0, 1.5], '/api/solutioning/formatting'),
  aiEvent('solutioning_hyper_canvas', 'Solutioning: Hyper canvas', 'AI hyper canvas generation', 'ai_solutioning', 20, [1.0, 3.0], '/api/solutioning/hyper-canvas'),
  flatEvent('push_structuring_to_visuals', 'Push: Structuring to visuals', 'Data transfer from structuring to visuals', 'data_transfer', 1, '/api/push/structuring-to-visuals'),
  flatEvent('push_visuals_to_solutioning', 'Push: Visuals to solutioning', 'Data transfer from visuals to solutioning', 'data_transfer', 1, '/api/push/visuals-to-solutioning'),
  flatEvent('push_solutioning_to_sow', 'Push: Solutioning to SOW', 'Data transfer from solutioning to statement of work', 'data_transfer', 1, '/api/push/solutioning-to-sow'),
  flatEvent('push_sow_to_loe', 'Push: SOW to LOE', 'Data transfer from statement of work to level of effort', 'data_transfer', 1, '/api/push/sow-to-loe'),
  flatEvent('export_pdf', 'Export: PDF', 'PDF export of a document', 'export', 2, '/api/export/pdf', 'pdfExportsPerMonth'),
  // Beyond the original catalogue: an LLM call priced by its tokens, known only after the call. A
  // reservation without quantities holds maxUnits (0.5 + 8,000 × 0.002 + 2,000 × 0.008 = 32.5 credits).
  {
    eventType: 'llm_completion',
    displayName: 'LLM: Completion',
    description: 'A language-model completion, priced by its input and output tokens',
    category: 'ai_llm',
    baseCredits: 0.5,
    endpoint: '/api/llm/complete',
    multipliers: { complexity: null, features: {} },
    limitKey: 'aiCallsPerMonth',
    metadata: {},
    units: { inputTokens: 0.002, outputTokens: 0.008 },
    maxUnits: { inputTokens: 8000, outputTokens: 2000 },
  },
];

const DEFAULT_THRESHOLDS = [0.8, 0.9, 1.0];

export const SEED_PLANS: SeedPlan[] = [
  {
    name: 'free',
    displayName: 'Free Plan',
    description: 'Try the AI tools with a small monthly allowance',
    monthlyCredits: 100,
    pricing: { monthly: 0, annual: 0 },
    limits: { aiCallsPerMonth: 50, pdfExportsPerMonth: 5, sessionLimit: 10, teamMembersLimit: 1, storageLimit: 100 },
    features: ['Basic AI'],
    overageRate: null,
    warningThresholds: DEFAULT_THRESHOLDS,
    sortOrder: 1,
  },
  {
    name: 'starter',
    displayName: 'Starter Plan',
    description: 'For small teams getting started',
    monthlyCredits: 1000,
    pricing: { monthly: 19, annual: 190 },
    limits: { aiCallsPerMonth: 500, pdfExportsPerMonth: 50, sessionLimit: 50, teamMembersLimit: 5, storageLimit: 1000 },
    features: ['Standard AI', 'Email support'],
    overageRate: 0.02,
    warningThresholds: DEFAULT_THRESHOLDS,
    sortOrder: 2,
  },
  {
    name: 'professional',
    displayName: 'Professional Plan',
    description: 'For growing teams that rely on AI every day',
    monthlyCredits: 5000,
    pricing: { monthly: 49, annual: 490 },
    limits: { aiCallsPerMonth: 2000, pdfExportsPerMonth: 200, sessionLimit: 200, teamMembersLimit: 20, storageLimit: 5000 },
    features: ['Advanced AI', 'Priority support', 'Custom branding'],
    overageRate: 0.01,
    warningThresholds: DEFAULT_THRESHOLDS,
    sortOrder: 3,
  },
  {
    name: 'enterprise',
    displayName: 'Enterprise Plan',
    description: 'Unlimited calls and the lowest overage rate',
    monthlyCredits: 15000,
    pricing: { monthly: 99, annual: 990 },
    limits: { aiCallsPerMonth: null, pdfExportsPerMonth: null, sessionLimit: null, teamMembersLimit: null, storageLimit: null },
    features: ['Advanced AI', 'Dedicated support', 'Custom branding', 'SSO'],
    overageRate: 0.008,
    warningThresholds: DEFAULT_THRESHOLDS,
    sortOrder: 4,
  },
];
