// Inline editing of a versioned definition (event or plan): a form of typed fields that PUTs the whole
// definition back (PATCH merges maps, so a removed feature would survive it), errors shown per field,
// and the version history with a one-click rollback.

import { ApiError } from '../api';
import { describeError } from '../context';
import { field, fill, h, hideToast, scrollBox, toast, uid } from '../dom';
import type { Child } from '../dom';
import { clearFieldErrors, formError, numberOrText, showFieldErrors } from '../forms';
import { formatDateTime } from '../format';
import type { HistoryEntry } from '../types';

export type FieldKind = 'text' | 'nullableText' | 'number' | 'nullableNumber' | 'numberList' | 'textList' | 'featureMap' | 'boolean';

export interface FieldSpec {
  path: string;
  label: string;
  kind: FieldKind;
  hint?: string;
}

export interface FieldGroup {
  /** The API's path for errors about the group as a whole ("multipliers.complexity"). */
  path: string;
  legend: string;
  fields: FieldSpec[];
}

export type FormItem = FieldSpec | FieldGroup;

const isGroup = (item: FormItem): item is FieldGroup => 'fields' in item;

function getPath(obj: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((value, key) => (value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined), obj);
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let target = obj;
  for (const key of keys.slice(0, -1)) {
    if (!target[key] || typeof target[key] !== 'object') target[key] = {};
    target = target[key] as Record<string, unknown>;
  }
  target[keys[keys.length - 1]] = value;
}

function toText(kind: FieldKind, value: unknown): string {
  if (value === null || value === undefined) return '';
  switch (kind) {
    case 'numberList':
    case 'textList':
      return (value as unknown[]).join(', ');
    case 'featureMap':
      return Object.entries(value as Record<string, number>)
        .map(([name, bonus]) => `${name}=${bonus}`)
        .join(', ');
    default:
      return String(value);
  }
}

function fromText(kind: FieldKind, raw: string): unknown {
  const text = raw.trim();
  const list = () =>
    text
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  switch (kind) {
    case 'text':
      return raw;
    case 'nullableText':
      return text === '' ? null : text;
    case 'number':
      return numberOrText(text);
    case 'nullableNumber':
      return text === '' ? null : numberOrText(text);
    case 'numberList':
      return list().map(numberOrText);
    case 'textList':
      return list();
    case 'featureMap':
      return Object.fromEntries(
        list().map((pair) => {
          const [name, bonus = ''] = pair.split('=').map((s) => s.trim());
          return [name, numberOrText(bonus)];
        }),
      );
    default:
      return raw;
  }
}

export interface EditorOptions<T> {
  /** "event type structuring_diagnose": what the messages call it. */
  title: string;
  definition: T;
  items: FormItem[];
  /** Adjusts the body before sending (e.g. no complexity bounds -> complexity null). */
  normalize?: (body: Record<string, unknown>) => void;
  save: (body: Record<string, unknown>) => Promise<{ version: number }>;
  saved: () => void;
  cancel: () => void;
}

const SERVER_OWNED = ['version', 'createdAt', 'updatedAt'];

function comparable(definition: unknown, normalize?: (body: Record<string, unknown>) => void): string {
  const body = structuredClone(definition) as Record<string, unknown>;
  for (const key of SERVER_OWNED) delete body[key];
  normalize?.(body);
  return JSON.stringify(body);
}

export function definitionEditor<T extends object>(options: EditorOptions<T>): HTMLFormElement {
  const inputs = new Map<FieldSpec, HTMLInputElement>();
  const control = (spec: FieldSpec) => {
    const value = getPath(options.definition, spec.path);
    const input =
      spec.kind === 'boolean'
        ? h('input', { type: 'checkbox', name: spec.path, checked: Boolean(value) })
        : h('input', { type: 'text', name: spec.path, value: toText(spec.kind, value), autocomplete: 'off', inputmode: spec.kind.toLowerCase().includes('number') ? 'decimal' : null });
    inputs.set(spec, input);
    const wrapper = field(spec.label, input, { hint: spec.hint, path: spec.path });
    if (spec.kind === 'boolean') wrapper.classList.add('checkbox');
    return wrapper;
  };
  const children: Child[] = options.items.map((item) =>
    isGroup(item)
      ? h('fieldset', { class: 'field-group', 'data-field': item.path }, h('legend', null, item.legend), item.fields.map(control), h('p', { class: 'field-error', id: uid('group-error'), hidden: true }))
      : control(item),
  );
  const saveButton = h('button', { type: 'submit' }, 'Save');
  const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel');
  cancel.addEventListener('click', options.cancel);

  const form = h('form', { class: 'editor', novalidate: true }, h('div', { class: 'editor-fields' }, children), h('div', { class: 'buttons' }, saveButton, cancel));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    const body = structuredClone(options.definition) as Record<string, unknown>;
    for (const key of SERVER_OWNED) delete body[key];
    for (const [spec, input] of inputs) setPath(body, spec.path, spec.kind === 'boolean' ? input.checked : fromText(spec.kind, input.value));
    options.normalize?.(body);
    if (JSON.stringify(body) === comparable(options.definition, options.normalize)) {
      formError(form).textContent = 'No changes to save.';
      return;
    }
    saveButton.disabled = true;
    try {
      const result = await options.save(body);
      toast(`Saved ${options.title}: now version ${result.version}.`);
      options.saved();
    } catch (error) {
      hideToast();
      if (error instanceof ApiError && error.status === 400) {
        const unplaced = showFieldErrors(form, error.fields);
        fill(formError(form), `Not saved: ${error.message}. The active definition is unchanged.`, unplaced.length ? h('ul', null, unplaced.map((m) => h('li', null, m))) : null);
      } else {
        fill(formError(form), `Not saved: ${describeError(error)}`);
      }
    } finally {
      saveButton.disabled = false;
    }
  });
  return form;
}

/** "baseCredits: 10 → 12" for every top-level field that differs. */
export function describeChange(entry: HistoryEntry): string {
  if (!entry.before) return entry.action === 'seed' ? 'seeded' : 'created';
  const after = entry.after ?? {};
  const keys = new Set([...Object.keys(entry.before), ...Object.keys(after)]);
  const changes: string[] = [];
  for (const key of keys) {
    const a = JSON.stringify(entry.before[key]);
    const b = JSON.stringify(after[key]);
    if (a !== b) changes.push(`${key}: ${short(a)} → ${short(b)}`);
  }
  if (entry.before && entry.isActive === false) changes.push('deactivated');
  return changes.length ? changes.join('; ') : 'no field changed';
}

function short(json: string | undefined): string {
  if (json === undefined) return '(none)';
  return json.length > 60 ? `${json.slice(0, 57)}…` : json;
}

export function historyTable(entries: HistoryEntry[], currentVersion: number, rollback: (version: number) => Promise<void>): HTMLElement {
  const rows = entries.map((entry) => {
    const button =
      entry.version === currentVersion
        ? h('span', { class: 'badge good' }, 'current')
        : h('button', { type: 'button', class: 'secondary small', 'data-rollback': entry.version }, `Roll back to v${entry.version}`);
    if (button instanceof HTMLButtonElement) {
      button.addEventListener('click', async () => {
        button.disabled = true;
        try {
          await rollback(entry.version);
        } finally {
          button.disabled = false;
        }
      });
    }
    return h(
      'tr',
      { 'data-version': entry.version },
      h('td', { class: 'num' }, `v${entry.version}`),
      h('td', null, entry.action),
      h('td', null, entry.actor),
      h('td', null, formatDateTime(entry.createdAt)),
      h('td', { class: 'changes' }, describeChange(entry)),
      h('td', null, button),
    );
  });
  return h(
    'div',
    scrollBox('Version history'),
    h(
      'table',
      { class: 'history' },
      h('caption', { class: 'sr-only' }, 'Version history, newest first'),
      h('thead', null, h('tr', null, ['Version', 'Action', 'By', 'When', 'Changes', 'Rollback'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', null, rows),
    ),
  );
}
