import { apiPath } from '../api';
import { describeError } from '../context';
import type { ViewContext } from '../context';
import { fill, h, loading } from '../dom';
import { formatDate, formatPeriodLastDay } from '../format';
import type { Invoice } from '../types';
import { invoiceLinesFor } from './organization';

/**
 * One period's invoice on a page of its own, laid out for the browser's print dialog (print to PDF): the
 * service makes no PDF; the page's print style drops the navigation and buttons.
 */
export async function renderInvoicePrint(ctx: ViewContext, orgId: string, period: string): Promise<void> {
  const back = h('a', { href: `#/org/${encodeURIComponent(orgId)}`, class: 'no-print' }, `← Usage of ${orgId}`);
  fill(ctx.main, back, loading());
  try {
    const inv = await ctx.api.get<Invoice>(apiPath('organizations', orgId, 'usage', 'invoice'), { period });
    const print = h('button', { type: 'button', class: 'no-print', id: 'print-invoice' }, 'Print');
    print.addEventListener('click', () => window.print());
    fill(
      ctx.main,
      back,
      h(
        'article',
        { class: 'card printable-invoice', id: 'printable-invoice-view', 'aria-labelledby': 'invoice-title' },
        h('h1', { id: 'invoice-title' }, `Invoice ${inv.period}`),
        h(
          'dl',
          { class: 'invoice-meta' },
          h('dt', null, 'Organization'),
          h('dd', null, orgId),
          h('dt', null, 'Period'),
          h('dd', null, inv.start && inv.end ? `${formatDate(inv.start)} – ${formatPeriodLastDay(inv.end)} (UTC)` : inv.period),
          h('dt', null, 'Status'),
          h('dd', null, inv.status === 'open' ? 'preview (the period is still open; amounts may change)' : inv.status),
          h('dt', null, 'Currency'),
          h('dd', null, inv.currency),
        ),
        await invoiceLinesFor(ctx, orgId, inv),
        print,
      ),
    );
  } catch (error) {
    fill(ctx.main, back, h('p', { class: 'error', role: 'alert' }, describeError(error)));
  }
}
