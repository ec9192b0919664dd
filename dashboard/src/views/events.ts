import type { ViewContext } from '../context';
import { h } from '../dom';
import { formatCredits } from '../format';
import type { EventDefinition } from '../types';
import { renderRegistry } from './registry';

/** "inputTokens 0.002, outputTokens 0.008 a unit (holds up to outputTokens 4000)", or – without units. */
function unitPrices(e: EventDefinition): string {
  const units = Object.entries(e.units ?? {});
  if (units.length === 0) return '–';
  const held = Object.entries(e.maxUnits ?? {}).map(([name, n]) => `${name} ${n}`);
  return `${units.map(([name, rate]) => `${name} ${rate}`).join(', ')} a unit${held.length ? ` (holds up to ${held.join(', ')})` : ''}`;
}

export function renderEvents(ctx: ViewContext): Promise<void> {
  return renderRegistry<EventDefinition>(ctx, {
    resource: 'events',
    heading: 'Event definitions',
    intro: 'What each use costs. A saved change is a new version and prices the next event at once, on every instance.',
    noun: 'event',
    keyOf: (e) => e.eventType,
    headers: ['Event type', 'Category', { text: 'Base credits', numeric: true }, 'Complexity', 'Feature bonuses', 'Unit prices', 'Counts toward', { text: 'Version', numeric: true }, 'Status'],
    cells: (e) => [
      h('span', null, h('code', null, e.eventType), h('br'), h('span', { class: 'muted' }, e.displayName)),
      e.category,
      h('span', { 'data-testid': 'base-credits' }, formatCredits(e.baseCredits)),
      e.multipliers.complexity ? `×${e.multipliers.complexity.min} – ×${e.multipliers.complexity.max}` : '–',
      Object.entries(e.multipliers.features)
        .map(([name, bonus]) => `${name} +${bonus}`)
        .join(', ') || '–',
      // Priced quantities (tokens): credits per unit, and what a reservation holds when it names none.
      h('span', { 'data-testid': 'unit-prices' }, unitPrices(e)),
      (e.countsToward ?? (e.limitKey ? [e.limitKey] : [])).join(', ') || '–',
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
      { path: 'units', label: 'Unit prices', kind: 'featureMap', hint: 'name=credits per unit, comma separated (inputTokens=0.002, outputTokens=0.008); empty for none' },
      { path: 'maxUnits', label: 'Units a reservation holds', kind: 'featureMap', hint: 'name=whole units, for priced units only (outputTokens=4000); empty for none' },
      { path: 'limitKey', label: 'Counts toward limit', kind: 'nullableText', hint: 'A limit name of the plans (aiCallsPerMonth, pdfExportsPerMonth, sessionLimit or one an operator added), or empty' },
      { path: 'endpoint', label: 'Endpoint', kind: 'nullableText', hint: 'The path it meters, or empty' },
      { path: 'description', label: 'Description', kind: 'text' },
      { path: 'isActive', label: 'Active', kind: 'boolean' },
    ],
    normalize: (body) => {
      // The form edits the first limit (limitKey, the old spelling); the others of countsToward stay.
      const names = Array.isArray(body.countsToward) ? (body.countsToward as string[]) : [];
      const first = typeof body.limitKey === 'string' && body.limitKey !== '' ? body.limitKey : null;
      if (first !== (names[0] ?? null)) body.countsToward = first === null ? [] : [first, ...names.slice(1).filter((n) => n !== first)];
      delete body.limitKey;
      const multipliers = body.multipliers as { complexity: { min: unknown; max: unknown } | null } | undefined;
      const c = multipliers?.complexity;
      if (multipliers && c && (c.min === null || c.min === undefined) && (c.max === null || c.max === undefined)) multipliers.complexity = null;
      // No unit prices is no `units` at all (an empty map would still be a declared, empty price list).
      for (const field of ['units', 'maxUnits']) {
        const map = body[field];
        if (map && typeof map === 'object' && Object.keys(map).length === 0) delete body[field];
      }
    },
  });
}
