// The operator's list of event definitions or plans: a table with inline editing and version history.

import { apiPath } from '../api';
import { describeError } from '../context';
import type { ViewContext } from '../context';
import { card, fill, h, loading, scrollBox, toast } from '../dom';
import type { Child } from '../dom';
import type { HistoryEntry } from '../types';
import { definitionEditor, historyTable } from './definition-editor';
import type { FormItem } from './definition-editor';

export interface RegistrySpec<T extends { version: number; isActive: boolean }> {
  /** "events" or "plans": /api/admin/<resource>. */
  resource: 'events' | 'plans';
  heading: string;
  intro: string;
  noun: string;
  keyOf: (item: T) => string;
  headers: (string | { text: string; numeric?: boolean })[];
  cells: (item: T) => Child[];
  items: FormItem[];
  normalize?: (body: Record<string, unknown>) => void;
}

export async function renderRegistry<T extends { version: number; isActive: boolean }>(ctx: ViewContext, spec: RegistrySpec<T>): Promise<void> {
  const { api, main } = ctx;
  const includeInactive = h('input', { type: 'checkbox', name: 'includeInactive' });
  const listBody = h('div', { class: 'card-body' }, loading());
  const toggle = h('div', { class: 'field checkbox' }, includeInactive, h('label', { for: (includeInactive.id = `${spec.resource}-inactive`) }, 'Show inactive'));
  fill(main, h('div', { class: 'page-head' }, h('h1', null, spec.heading), h('p', { class: 'subtitle' }, spec.intro)), card(`${spec.noun[0].toUpperCase()}${spec.noun.slice(1)}s`, { wide: true, actions: toggle }, listBody));

  const load = async () => {
    fill(listBody, loading());
    let items: T[];
    try {
      items = (await api.get<{ items: T[] }>(apiPath('admin', spec.resource), { includeInactive: includeInactive.checked ? 'true' : undefined })).items;
    } catch (error) {
      fill(listBody, h('p', { class: 'error', role: 'alert' }, describeError(error)));
      return;
    }
    const columns = spec.headers.length + 1;
    const tbody = h('tbody');
    for (const item of items) {
      const key = spec.keyOf(item);
      const detail = h('tr', { class: 'detail', hidden: true }, h('td', { colspan: columns }));
      const detailCell = detail.firstElementChild as HTMLTableCellElement;
      const edit = h('button', { type: 'button', class: 'secondary small', 'data-action': 'edit', 'aria-expanded': 'false' }, 'Edit');
      const history = h('button', { type: 'button', class: 'secondary small', 'data-action': 'history', 'aria-expanded': 'false' }, 'History');
      const open = (which: 'edit' | 'history' | null) => {
        edit.setAttribute('aria-expanded', String(which === 'edit'));
        history.setAttribute('aria-expanded', String(which === 'history'));
        detail.hidden = which === null;
        detail.dataset.open = which ?? '';
      };
      edit.addEventListener('click', () => {
        if (detail.dataset.open === 'edit') return open(null);
        open('edit');
        const form = definitionEditor({
          title: `${spec.noun} ${key}`,
          definition: item,
          items: spec.items,
          normalize: spec.normalize,
          save: (body) => api.put<{ version: number }>(apiPath('admin', spec.resource, key), body),
          saved: () => void load(),
          cancel: () => open(null),
        });
        form.dataset.editor = key;
        fill(detailCell, h('h3', null, `Edit ${key} (version ${item.version})`), form);
        form.querySelector<HTMLInputElement>('input')?.focus();
      });
      history.addEventListener('click', async () => {
        if (detail.dataset.open === 'history') return open(null);
        open('history');
        fill(detailCell, loading());
        try {
          const entries = (await api.get<{ items: HistoryEntry[] }>(apiPath('admin', spec.resource, key, 'history'))).items;
          fill(
            detailCell,
            h('h3', null, `History of ${key}`),
            historyTable(entries, item.version, async (version) => {
              try {
                const restored = await api.post<{ version: number }>(apiPath('admin', spec.resource, key, 'rollback'), { version });
                toast(`Rolled ${key} back to version ${version}'s content: now version ${restored.version}.`);
                await load();
              } catch (error) {
                toast(describeError(error), 'error');
              }
            }),
          );
        } catch (error) {
          fill(detailCell, h('p', { class: 'error', role: 'alert' }, describeError(error)));
        }
      });
      tbody.append(
        h('tr', { 'data-key': key, class: item.isActive ? null : 'inactive' }, spec.cells(item).map((c, i) => h('td', { class: isNumeric(spec.headers[i]) ? 'num' : null }, c)), h('td', { class: 'actions' }, edit, history)),
        detail,
      );
    }
    fill(
      listBody,
      h(
        'div',
        scrollBox(spec.heading),
        h(
          'table',
          { id: `${spec.resource}-table` },
          h('caption', { class: 'sr-only' }, spec.heading),
          h(
            'thead',
            null,
            h(
              'tr',
              null,
              spec.headers.map((x) => h('th', { scope: 'col', class: isNumeric(x) ? 'num' : null }, typeof x === 'string' ? x : x.text)),
              h('th', { scope: 'col' }, 'Actions'),
            ),
          ),
          tbody,
        ),
      ),
    );
  };
  includeInactive.addEventListener('change', () => void load());
  await load();
}

function isNumeric(header: string | { text: string; numeric?: boolean } | undefined): boolean {
  return typeof header === 'object' && Boolean(header.numeric);
}

