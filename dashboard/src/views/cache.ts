import { apiPath } from '../api';
import { describeError } from '../context';
import type { ViewContext } from '../context';
import { card, fill, h, loading, table, toast } from '../dom';
import { formatDateTime, formatInt } from '../format';
import type { CacheStats } from '../types';

export async function renderCache(ctx: ViewContext): Promise<void> {
  const { api, main } = ctx;
  const body = h('div', { class: 'card-body' }, loading());
  const refreshAll = h('button', { type: 'button', id: 'refresh-cache' }, 'Refresh all');
  const clear = h('button', { type: 'button', class: 'secondary' }, 'Clear');
  fill(
    main,
    h('div', { class: 'page-head' }, h('h1', null, 'Configuration cache'), h('p', { class: 'subtitle' }, 'Event definitions and plans are served from memory and reloaded on change, on TTL, or on demand.')),
    h('div', { class: 'grid' }, card('Cache statistics', { id: 'cache', wide: true, actions: h('span', { class: 'buttons' }, refreshAll, clear) }, body)),
  );

  const load = async () => {
    try {
      const stats = await api.get<Record<string, CacheStats>>(apiPath('admin', 'cache'));
      const rows = Object.values(stats).map((s) => {
        const refresh = h('button', { type: 'button', class: 'secondary small' }, `Refresh ${s.registry}`);
        refresh.addEventListener('click', () => void act(() => api.post(apiPath('admin', 'cache', 'refresh'), { registry: s.registry }), `Reloaded ${s.registry}.`));
        const lookups = s.hits + s.misses;
        return [
          s.registry,
          formatInt(s.entries),
          formatInt(s.hits),
          formatInt(s.misses),
          lookups ? `${((s.hits / lookups) * 100).toFixed(1)}%` : '–',
          formatInt(s.refreshes),
          formatInt(s.invalidationsReceived),
          h('span', { 'data-testid': `last-refresh-${s.registry}` }, formatDateTime(s.lastRefresh)),
          `${formatInt(s.ttlSeconds)} s`,
          s.transport,
          refresh,
        ];
      });
      fill(
        body,
        table(
          'Cache statistics per registry',
          [
            'Registry',
            { text: 'Entries', numeric: true },
            { text: 'Hits', numeric: true },
            { text: 'Misses', numeric: true },
            { text: 'Hit rate', numeric: true },
            { text: 'Refreshes', numeric: true },
            { text: 'Invalidations', numeric: true },
            'Last refresh',
            { text: 'TTL', numeric: true },
            'Invalidation transport',
            'Refresh',
          ],
          rows,
          { id: 'cache-table' },
        ),
      );
    } catch (error) {
      fill(body, h('p', { class: 'error', role: 'alert' }, describeError(error)));
    }
  };
  const act = async (work: () => Promise<unknown>, done: string) => {
    try {
      await work();
      toast(done);
      await load();
    } catch (error) {
      toast(describeError(error), 'error');
    }
  };
  refreshAll.addEventListener('click', () => void act(() => api.post(apiPath('admin', 'cache', 'refresh'), { registry: 'all' }), 'Reloaded every registry.'));
  clear.addEventListener('click', () => void act(() => api.delete(apiPath('admin', 'cache')), 'Cleared: the caches reloaded from the database.'));
  await load();
}
