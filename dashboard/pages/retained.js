// Retained messages: load by filter (a page at a time), browse them as a tree of topic levels, view one, delete it.
import { request } from '../api.js';
import { describePayload, field, formatBytes, h, prettyJson, replace } from '../dom.js';
import { buildTopicTree, sortedChildren } from '../topic-tree.js';
import { confirmAction, empty, notify } from '../ui.js';

/** Levels are opened by default down to this depth (deeper ones on click). */
const OPEN_DEPTH = 3;
/** Messages per GET /retained page (its most); "Load more" follows the answer's next cursor. */
const PAGE_LIMIT = 1000;

export function createRetainedPage(ctx) {
  const filter = h('input', { type: 'text', value: '#', autocomplete: 'off', spellcheck: 'false' });
  const form = h(
    'form',
    { class: 'inline-form', 'aria-label': 'Retained filter', novalidate: true },
    field('Topic filter', filter),
    h('button', { type: 'submit', class: 'primary' }, 'Load'),
  );
  const summary = h('p', { class: 'muted', 'data-testid': 'retained-summary' });
  const more = h('button', { type: 'button' }, 'Load more');
  more.hidden = true;
  const tree = h('div', { class: 'tree', 'aria-label': 'Retained topics', role: 'region' });
  const viewer = h('div', { class: 'viewer card', role: 'region', 'aria-label': 'Retained message' }, empty('Choose a topic to see its message.'));
  const el = h(
    'section',
    { class: 'page', 'aria-labelledby': 'retained-title', hidden: true },
    h('div', { class: 'page-head' }, h('h1', { id: 'retained-title' }, 'Retained messages')),
    form,
    summary,
    h('div', { class: 'split' }, h('div', null, tree, h('div', { class: 'actions' }, more)), viewer),
  );
  let selected;
  /** What is shown: the filter, the pages loaded so far, and the cursor of the next page (null: all loaded). */
  let shown = { filter: '#', messages: [], next: null };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void load();
  });
  more.addEventListener('click', () => void load(shown));

  /** One page of GET /retained after the cursor `after` ('' = from the start). */
  function fetchPage(wanted, after) {
    const query = `filter=${encodeURIComponent(wanted)}&limit=${PAGE_LIMIT}${after ? `&after=${encodeURIComponent(after)}` : ''}`;
    return request(ctx.auth, 'GET', `/tenants/${encodeURIComponent(ctx.auth.tenant)}/retained?${query}`);
  }

  /** Loads the first page of the filter in the field, or (`from`) the page after those already shown. */
  async function load(from) {
    const wanted = from ? from.filter : filter.value.trim() || '#';
    more.disabled = true;
    if (!from) replace(summary, 'Loading…');
    let messages;
    let next;
    try {
      const page = await fetchPage(wanted, from?.next ?? '');
      messages = [...(from?.messages ?? []), ...page.messages];
      next = page.next ?? null;
    } catch (error) {
      more.disabled = false;
      if (error.status === 404) {
        replace(summary, 'The retained messages API is not available on this broker.');
        replace(tree, empty('No retained messages to show.'));
        return;
      }
      if (!from) replace(summary, '');
      await ctx.run(() => Promise.reject(error), 'Load retained messages').catch(() => {});
      return;
    }
    shown = { filter: wanted, messages, next };
    more.hidden = next === null;
    more.disabled = false;
    replace(
      summary,
      `${messages.length} retained message${messages.length === 1 ? '' : 's'} matching `,
      h('code', null, wanted),
      // Say there are more rather than pretend the tree is complete.
      next !== null ? ' so far: “Load more” for the next ones' : null,
    );
    if (messages.length === 0) {
      replace(tree, empty('No retained messages match this filter.'));
      showMessage(undefined);
      return;
    }
    const root = buildTopicTree(messages);
    replace(tree, h('ul', { class: 'tree-root' }, sortedChildren(root).map((node) => nodeEl(node, 1))));
    showMessage(selected && messages.find((m) => m.topic === selected.topic));
  }

  function levelLabel(level) {
    return level === '' ? h('em', { class: 'muted' }, '(empty level)') : level;
  }

  function topicButton(node, text) {
    return h(
      'button',
      { type: 'button', class: 'topic link', 'data-topic': node.path, 'aria-label': `Topic ${node.path}`, onclick: () => showMessage(node.message) },
      text,
    );
  }

  function nodeEl(node, depth) {
    if (node.children.size === 0) return h('li', null, topicButton(node, levelLabel(node.level)));
    return h(
      'li',
      null,
      h(
        'details',
        { open: depth < OPEN_DEPTH },
        h('summary', null, levelLabel(node.level), h('span', { class: 'count' }, String(node.count))),
        h('ul', null, node.message ? h('li', null, topicButton(node, h('em', null, 'message at this level'))) : null, sortedChildren(node).map((child) => nodeEl(child, depth + 1))),
      ),
    );
  }

  function showMessage(message) {
    selected = message;
    for (const button of tree.querySelectorAll('button.topic')) {
      button.setAttribute('aria-pressed', String(message !== undefined && button.dataset.topic === message.topic));
    }
    if (!message) return void replace(viewer, empty('Choose a topic to see its message.'));
    const bytes = message.encoding === 'base64' ? Uint8Array.from(atob(message.payload), (c) => c.charCodeAt(0)) : undefined;
    const shown = bytes ? describePayload(bytes) : { text: message.payload, encoding: 'utf8' };
    const pretty = shown.encoding === 'utf8' ? prettyJson(shown.text) : undefined;
    const remove = h('button', { type: 'button', class: 'danger' }, 'Delete retained message');
    remove.addEventListener('click', async () => {
      const sure = await confirmAction(`Delete the retained message of “${message.topic}”?`, 'Delete');
      if (!sure) return;
      const done = await ctx.run(() => ctx.api.deleteRetained(message.topic).then(() => true), 'Delete retained message').catch(() => false);
      if (!done) return;
      notify(`Deleted the retained message of “${message.topic}”.`);
      selected = undefined;
      await load();
    });
    replace(
      viewer,
      h('h2', { class: 'mono break', 'data-testid': 'retained-topic' }, message.topic),
      h(
        'dl',
        { class: 'facts' },
        h('dt', null, 'QoS'), h('dd', null, String(message.qos)),
        h('dt', null, 'Size'), h('dd', null, formatBytes(message.bytes ?? shown.text.length)),
        h('dt', null, 'Shown as'), h('dd', null, shown.encoding === 'hex' ? 'hex (not UTF-8)' : pretty ? 'JSON' : 'text'),
      ),
      h('pre', { class: 'payload', 'data-testid': 'retained-payload', tabindex: 0 }, pretty ?? shown.text),
      h('div', { class: 'actions' }, remove),
    );
  }

  return { el, show: load };
}
