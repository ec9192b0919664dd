import type { ViewContext } from '../context';
import { h } from '../dom';
import { formatCredits, formatInt, formatUsd } from '../format';
import type { PlanDefinition } from '../types';
import { renderRegistry } from './registry';

const LIMITS: [string, string][] = [
  ['aiCallsPerMonth', 'AI calls a month'],
  ['pdfExportsPerMonth', 'PDF exports a month'],
  ['sessionLimit', 'Sessions'],
  ['teamMembersLimit', 'Team members'],
  ['storageLimit', 'Storage (MB)'],
];

export function renderPlans(ctx: ViewContext): Promise<void> {
  return renderRegistry<PlanDefinition>(ctx, {
    resource: 'plans',
    heading: 'Plans',
    intro: 'Allowances, prices and limits. A saved change is a new version; organizations on the plan get it at once.',
    noun: 'plan',
    keyOf: (p) => p.name,
    headers: ['Plan', { text: 'Monthly credits', numeric: true }, { text: 'Price (month / year)', numeric: true }, { text: 'Overage rate', numeric: true }, 'AI calls / PDF exports', { text: 'Version', numeric: true }, 'Status'],
    cells: (p) => [
      h('span', null, h('code', null, p.name), h('br'), h('span', { class: 'muted' }, p.displayName)),
      formatCredits(p.monthlyCredits),
      `${formatUsd(p.pricing.monthly)} / ${formatUsd(p.pricing.annual)}`,
      p.overageRate ? `$${p.overageRate}` : 'hard cap',
      `${formatInt(p.limits.aiCallsPerMonth)} / ${formatInt(p.limits.pdfExportsPerMonth)}`,
      `v${p.version}`,
      h('span', { class: `badge${p.isActive ? ' good' : ''}` }, p.isActive ? 'active' : 'inactive'),
    ],
    items: [
      { path: 'displayName', label: 'Display name', kind: 'text' },
      { path: 'monthlyCredits', label: 'Monthly credits', kind: 'number', hint: 'A whole number' },
      {
        path: 'pricing',
        legend: 'Price (USD)',
        fields: [
          { path: 'pricing.monthly', label: 'Monthly', kind: 'number' },
          { path: 'pricing.annual', label: 'Annual', kind: 'number' },
        ],
      },
      { path: 'overageRate', label: 'Overage rate (USD a credit)', kind: 'nullableNumber', hint: 'Empty or 0: hard cap' },
      { path: 'limits', legend: 'Limits (empty: unlimited)', fields: LIMITS.map(([key, label]) => ({ path: `limits.${key}`, label, kind: 'nullableNumber' as const })) },
      { path: 'warningThresholds', label: 'Warning thresholds', kind: 'numberList', hint: 'Fractions of the allowance, increasing: 0.8, 0.9, 1' },
      { path: 'features', label: 'Features', kind: 'textList', hint: 'Comma separated' },
      { path: 'sortOrder', label: 'Sort order', kind: 'number' },
      { path: 'description', label: 'Description', kind: 'text' },
      { path: 'isActive', label: 'Active', kind: 'boolean' },
    ],
  });
}
