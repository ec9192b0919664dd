// A tiny element builder. Text always goes in as text nodes (never innerHTML): API data cannot inject markup.

export type Child = Node | string | number | null | undefined | false | Child[];
type AttrValue = string | number | boolean | null | undefined;
export type Attrs = Record<string, AttrValue | ((event: Event) => void)>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (typeof value === 'function') el.addEventListener(name.slice(2).toLowerCase(), value);
    else if (name === 'value' && 'value' in el) (el as HTMLInputElement).value = value === null || value === undefined ? '' : String(value);
    else if (name === 'checked' && 'checked' in el) (el as HTMLInputElement).checked = (el as HTMLInputElement).defaultChecked = Boolean(value);
    else if (value === true) el.setAttribute(name, '');
    else if (value !== false && value !== null && value !== undefined) el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's content. */
export function fill(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

let ids = 0;
/** A unique id for label/aria wiring. */
export function uid(prefix: string): string {
  ids += 1;
  return `${prefix}-${ids}`;
}

/** A labelled input: <div class="field"><label/><input/><p class="field-error"/></div>. */
export function field(label: string, input: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement, options: { hint?: string; path?: string } = {}): HTMLDivElement {
  const id = input.id || uid('f');
  input.id = id;
  const errorId = `${id}-error`;
  const hintId = options.hint ? `${id}-hint` : undefined;
  if (hintId) input.setAttribute('aria-describedby', hintId);
  return h(
    'div',
    { class: 'field', 'data-field': options.path ?? null },
    h('label', { for: id }, label),
    input,
    options.hint ? h('p', { class: 'hint', id: hintId }, options.hint) : null,
    h('p', { class: 'field-error', id: errorId, hidden: true }),
  );
}

/** Shows a message in a polite live region (bottom of the page). */
export function toast(message: string, kind: 'ok' | 'error' = 'ok'): void {
  const region = document.getElementById('toast');
  if (!region) return;
  region.className = `toast toast-${kind}`;
  region.textContent = message;
  region.hidden = false;
  window.clearTimeout(Number(region.dataset.timer ?? 0));
  region.dataset.timer = String(window.setTimeout(() => (region.hidden = true), 6000));
}

/** Hides the toast (a stale "saved" must not sit next to a new error). */
export function hideToast(): void {
  const region = document.getElementById('toast');
  if (region) region.hidden = true;
}

/** A card section with a heading; `id` names it for tests and in-page links. */
export function card(title: string, options: { id?: string; wide?: boolean; actions?: Child } = {}, ...children: Child[]): HTMLElement {
  const headingId = uid('h');
  return h(
    'section',
    { class: `card${options.wide ? ' wide' : ''}`, id: options.id ?? null, 'aria-labelledby': headingId },
    h('div', { class: 'card-head' }, h('h2', { id: headingId }, title), options.actions ? h('div', { class: 'card-actions' }, options.actions) : null),
    ...children,
  );
}

export function loading(): HTMLElement {
  return h('p', { class: 'muted', role: 'status' }, 'Loading…');
}

/** A simple table; cells may be nodes. */
export function table(caption: string | null, headers: (string | { text: string; numeric?: boolean })[], rows: Child[][], options: { id?: string; empty?: string } = {}): HTMLElement {
  const heads = headers.map((x) => (typeof x === 'string' ? { text: x, numeric: false } : { numeric: false, ...x }));
  if (rows.length === 0) return h('p', { class: 'muted empty' }, options.empty ?? 'Nothing yet.');
  return h(
    'div',
    scrollBox(caption ?? 'Table'),
    h(
      'table',
      { id: options.id ?? null },
      caption ? h('caption', { class: 'sr-only' }, caption) : null,
      h('thead', null, h('tr', null, heads.map((x) => h('th', { scope: 'col', class: x.numeric ? 'num' : null }, x.text)))),
      h('tbody', null, rows.map((cells) => h('tr', null, cells.map((c, i) => h('td', { class: heads[i]?.numeric ? 'num' : null }, c))))),
    ),
  );
}

/**
 * Attributes of a box that scrolls a wide table sideways on narrow screens: focusable, so keyboard users
 * can scroll it too, and named for screen readers.
 */
export function scrollBox(name: string): Attrs {
  return { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': name };
}
