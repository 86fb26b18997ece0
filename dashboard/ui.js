// Shared bits of UI: notices (errors and confirmations) and a modal confirmation (no window.confirm).
import { h, replace } from './dom.js';

/** Shows a short notice (at most three at once); errors stay 10 s, others 3 s, or until dismissed. */
export function notify(message, kind = 'info') {
  const region = document.getElementById('notices');
  const close = h('button', { type: 'button', class: 'link', 'aria-label': 'Dismiss notice' }, '×');
  const item = h('div', { class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, h('span', null, message), close);
  close.addEventListener('click', () => item.remove());
  region.append(item);
  while (region.children.length > 3) region.firstElementChild?.remove();
  setTimeout(() => item.remove(), kind === 'error' ? 10_000 : 3000);
}

/** Resolves true when the person confirms `action` in a modal dialog. */
export function confirmAction(question, action) {
  const dialog = document.getElementById('confirm-dialog');
  return new Promise((resolve) => {
    const ok = h('button', { type: 'button', class: 'danger', value: 'ok' }, action);
    const cancel = h('button', { type: 'button', value: 'cancel' }, 'Cancel');
    replace(dialog, h('p', { id: 'confirm-question' }, question), h('div', { class: 'actions' }, cancel, ok));
    const finish = (answer) => {
      dialog.close();
      resolve(answer);
    };
    ok.addEventListener('click', () => finish(true));
    cancel.addEventListener('click', () => finish(false));
    dialog.addEventListener('cancel', () => resolve(false), { once: true });
    dialog.showModal();
    cancel.focus();
  });
}

/** Copies to the clipboard; without clipboard access, selects the text so the person can copy it. */
export async function copyText(text, element) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const range = document.createRange();
    range.selectNodeContents(element);
    const selection = getSelection();
    selection?.removeAllRanges();
    selection?.addRange(range);
    return false;
  }
}

/** An empty-state paragraph. */
export function empty(text) {
  return h('p', { class: 'empty' }, text);
}

/**
 * Runs `task` now and then every `intervalMs` after it finishes, until stop(); start() again restarts.
 * A task returning false ends the polling (e.g. the endpoint does not exist). One loop at a time: a stale
 * loop notices its generation changed and ends.
 */
export function poller(task, intervalMs) {
  let timer;
  let generation = 0;
  async function loop(mine) {
    let again = true;
    try {
      again = (await task()) !== false;
    } catch {
      // the task reports its own failures; keep polling
    }
    if (again && mine === generation) timer = setTimeout(() => loop(mine), intervalMs);
  }
  return {
    start() {
      clearTimeout(timer);
      void loop(++generation);
    },
    stop() {
      clearTimeout(timer);
      generation++;
    },
  };
}
