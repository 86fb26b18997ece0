// DOM building without innerHTML: every piece of data becomes a text node or an attribute value, so topics,
// payloads, token names and client ids are always shown as text.

/**
 * h('button', { class: 'danger', onclick: kick, 'aria-label': `Kick ${id}` }, 'Kick')
 * Children: strings and numbers become text nodes; null/undefined/false are skipped; arrays are flattened.
 * `value` and `checked` are set as properties (they hold the live state of form controls).
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'value' || key === 'checked') el[key] = value;
    else if (key === 'class') el.className = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.append(child);
    else el.append(document.createTextNode(String(child)));
  }
}

/** Replaces all children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A labelled form field: <label>text <input …></label> keeps label and control together for tests and AT. */
export function field(label, control, hint) {
  return h('label', { class: 'field' }, h('span', { class: 'field-label' }, label), control, hint ? h('small', { class: 'hint' }, hint) : null);
}

export function formatTime(ms) {
  if (ms === null || ms === undefined) return '—';
  return new Date(ms).toLocaleString();
}

/** How long ago `ms` was, roughly ("just now", "5 min ago", "3 h ago", "2 d ago"); '—' for none. */
export function formatAgo(ms, now = Date.now()) {
  if (ms === null || ms === undefined) return '—';
  const seconds = Math.max(0, Math.round((now - ms) / 1000));
  if (seconds < 60) return 'just now';
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} d ago`;
}

export function formatDuration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400);
  const parts = [d && `${d}d`, `${Math.floor((s % 86400) / 3600)}h`, `${Math.floor((s % 3600) / 60)}m`, `${s % 60}s`];
  return parts.filter(Boolean).join(' ');
}

export function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Bytes as text when they are valid UTF-8, else as a hex dump; says which. */
export function describePayload(bytes) {
  try {
    return { text: strictUtf8.decode(bytes), encoding: 'utf8' };
  } catch {
    return { text: Array.from(bytes.subarray(0, 4096), (b) => b.toString(16).padStart(2, '0')).join(' '), encoding: 'hex' };
  }
}

/** Pretty-printed JSON when the text is a JSON object or array, else undefined. */
export function prettyJson(text) {
  const trimmed = text.trim();
  if (!trimmed.startsWith('{') && !trimmed.startsWith('[')) return undefined;
  try {
    return JSON.stringify(JSON.parse(trimmed), null, 2);
  } catch {
    return undefined;
  }
}
