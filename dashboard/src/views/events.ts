import type { ViewContext } from '../context';
import { h } from '../dom';
import { formatCredits } from '../format';
import type { EventDefinition } from '../types';
import { renderRegistry } from './registry';

export function renderEvents(ctx: ViewContext): Promise<void> {
  return renderRegistry<EventDefinition>(ctx, {
    resource: 'events',
    heading: 'Event definitions',
    intro: 'What each use costs. A saved change is a new version and prices the next event at once, on every instance.',
    noun: 'event',
    keyOf: (e) => e.eventType,
    headers: ['Event type', 'Category', { text: 'Base credits', numeric: true }, 'Complexity', 'Feature bonuses', 'Counts toward', { text: 'Version', numeric: true }, 'Status'],
    cells: (e) => [
      h('span', null, h('code', null, e.eventType), h('br'), h('span', { class: 'muted' }, e.displayName)),
      e.category,
      h('span', { 'data-testid': 'base-credits' }, formatCredits(e.baseCredits)),
      e.multipliers.complexity ? `×${e.multipliers.complexity.min} – ×${e.multipliers.complexity.max}` : '–',
      Object.entries(e.multipliers.features)
        .map(([name, bonus]) => `${name} +${bonus}`)
        .join(', ') || '–',
      e.limitKey ?? '–',
      `v${e.version}`,
      h('span', { class: `badge${e.isActive ? ' good' : ''}` }, e.isActive ? 'active' : 'inactive'),
    ],
    items: [
      { path: 'displayName', label: 'Display name', kind: 'text' },
      { path: 'category', label: 'Category', kind: 'text', hint: 'A slug, e.g. ai_analysis' },
      { path: 'baseCredits', label: 'Base credits', kind: 'number', hint: '>= 0, at most 2 decimals' },
      {
        path: 'multipliers.complexity',
        legend: 'Complexity factor (leave both empty for none)',
        fields: [
          { path: 'multipliers.complexity.min', label: 'Min', kind: 'nullableNumber' },
          { path: 'multipliers.complexity.max', label: 'Max', kind: 'nullableNumber' },
        ],
      },
      { path: 'multipliers.features', label: 'Feature bonuses', kind: 'featureMap', hint: 'name=credits, comma separated (echo=5, traceback=3)' },
      { path: 'limitKey', label: 'Counts toward limit', kind: 'nullableText', hint: 'aiCallsPerMonth, pdfExportsPerMonth, sessionLimit or empty' },
      { path: 'endpoint', label: 'Endpoint', kind: 'nullableText', hint: 'The path it meters, or empty' },
      { path: 'description', label: 'Description', kind: 'text' },
      { path: 'isActive', label: 'Active', kind: 'boolean' },
    ],
    normalize: (body) => {
      const multipliers = body.multipliers as { complexity: { min: unknown; max: unknown } | null } | undefined;
      const c = multipliers?.complexity;
      if (multipliers && c && (c.min === null || c.min === undefined) && (c.max === null || c.max === undefined)) multipliers.complexity = null;
    },
  });
}
