// Field-level errors from the API's 400 body: details.fields is keyed by the field's path
// ("baseCredits", "multipliers.complexity.min", "limits.aiCallsPerMonth", "features[1]").

import { h } from './dom';

function ownErrorSlot(wrapper: Element): HTMLElement | null {
  return wrapper.querySelector(':scope > .field-error');
}

export function clearFieldErrors(form: HTMLElement): void {
  for (const slot of form.querySelectorAll<HTMLElement>('.field-error')) {
    slot.textContent = '';
    slot.hidden = true;
  }
  for (const input of form.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
  form.querySelector('.form-error')?.replaceChildren();
}

/** True when `path` is `prefix` or lies below it ("a.b" under "a", "features[1]" under "features"). */
function within(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}.`) || path.startsWith(`${prefix}[`);
}

/**
 * Puts each message next to its field: the wrapper whose path is the error's path or its nearest parent;
 * else the first wrapper below the error's path (an error about a group). Messages with no field are
 * returned for a form-level list.
 */
export function showFieldErrors(form: HTMLElement, fields: Record<string, string[]>): string[] {
  const wrappers = [...form.querySelectorAll<HTMLElement>('[data-field]')];
  const unplaced: string[] = [];
  let first: HTMLElement | null = null;
  for (const [path, messages] of Object.entries(fields)) {
    const candidates = wrappers.filter((w) => within(path, w.dataset.field!)).sort((a, b) => b.dataset.field!.length - a.dataset.field!.length);
    const wrapper = candidates[0] ?? wrappers.find((w) => within(w.dataset.field!, path));
    const slot = wrapper && ownErrorSlot(wrapper);
    if (!wrapper || !slot) {
      unplaced.push(...messages);
      continue;
    }
    slot.textContent = [slot.textContent, ...messages].filter(Boolean).join(' ');
    slot.hidden = false;
    const inputs = wrapper.matches('.field') ? wrapper.querySelectorAll('input, select, textarea') : wrapper.querySelectorAll(':scope > .field input, :scope > .field select');
    for (const input of inputs) {
      input.setAttribute('aria-invalid', 'true');
      const described = new Set((input.getAttribute('aria-describedby') ?? '').split(' ').filter(Boolean));
      if (slot.id) described.add(slot.id);
      input.setAttribute('aria-describedby', [...described].join(' '));
    }
    first ??= wrapper.querySelector<HTMLElement>('input, select, textarea');
  }
  first?.focus();
  return unplaced;
}

/** The form's own message area (role=alert), created once. */
export function formError(form: HTMLElement): HTMLElement {
  let slot = form.querySelector<HTMLElement>('.form-error');
  if (!slot) {
    slot = h('div', { class: 'form-error', role: 'alert' });
    form.prepend(slot);
  }
  return slot;
}

/** Text typed for a number: a number when it reads as one, else the text itself (the API says what is wrong). */
export function numberOrText(raw: string): number | string {
  const text = raw.trim();
  return /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : text;
}
