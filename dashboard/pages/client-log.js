// The web client's message list: received messages (QoS, retain, user properties), our own publishes with
// the server's answer, connection events, and a topic filter (MQTT wildcards) over what is shown.
import { describePayload, h, replace } from '../dom.js';
import { describeReason, isFailure } from '../reason-codes.js';
import { isValidTopicFilter, topicMatches } from '../topic-filter.js';

const MAX_ENTRIES = 500;

function time() {
  return h('time', { class: 'muted' }, new Date().toLocaleTimeString());
}

/** User properties as "name: value" items, in the order they came [MQTT-3.3.2-18 v5]. */
function userPropertyList(pairs) {
  if (!pairs?.length) return null;
  return h(
    'ul',
    { class: 'user-properties', 'aria-label': 'User properties' },
    pairs.map(([name, value]) => h('li', { 'data-testid': 'user-property' }, h('code', null, name), ': ', h('code', null, value))),
  );
}

export function createMessageLog() {
  const list = h('ol', { class: 'messages', role: 'log', 'aria-label': 'Messages', 'aria-live': 'polite' });
  const counter = h('span', { class: 'muted', 'data-testid': 'message-count' }, '0 messages');
  const filter = h('input', { type: 'text', value: '', placeholder: 'all topics, or e.g. sensors/+/temp', autocomplete: 'off', spellcheck: 'false' });
  const filterHint = h('small', { class: 'hint', 'data-testid': 'message-filter-hint' });
  const el = h(
    'div',
    { class: 'card messages-card' },
    h('div', { class: 'card-head' }, h('h2', null, 'Messages'), counter, h('button', { type: 'button', class: 'link', onclick: clear }, 'Clear')),
    h('label', { class: 'field message-filter' }, h('span', { class: 'field-label' }, 'Show topics matching'), filter, filterHint),
    list,
  );
  let received = 0;
  /** The filter in force: undefined shows everything (empty, or not a valid filter). */
  let shown;

  function visible(topic) {
    return topic === undefined || shown === undefined || topicMatches(shown, topic);
  }

  function refilter() {
    const text = filter.value.trim();
    const valid = text === '' || isValidTopicFilter(text);
    shown = text && valid ? text : undefined;
    filterHint.textContent = valid ? (shown ? 'MQTT wildcards: + one level, # the rest' : '') : 'Not a valid topic filter: showing every message.';
    for (const item of list.children) {
      if (item.dataset.topic !== undefined) item.hidden = !visible(item.dataset.topic);
    }
    count();
  }
  filter.addEventListener('input', refilter);

  function count() {
    const hidden = list.querySelectorAll('[data-testid="message"][hidden]').length;
    const words = `${received} message${received === 1 ? '' : 's'}`;
    counter.textContent = hidden ? `${received - hidden} of ${words} shown` : words;
  }

  function add(item) {
    list.querySelector('.empty')?.remove();
    if (item.dataset.topic !== undefined) item.hidden = !visible(item.dataset.topic);
    list.prepend(item);
    while (list.children.length > MAX_ENTRIES) list.lastElementChild?.remove();
  }

  function clear() {
    received = 0;
    replace(list, h('li', { class: 'empty' }, 'No messages yet.'));
    count();
  }

  clear();

  return {
    el,
    /** A message from the server (the client's 'message' event detail). */
    addMessage({ topic, payload, qos, retain, dup, properties }) {
      received++;
      const body = describePayload(payload);
      add(
        h(
          'li',
          { class: 'message', 'data-testid': 'message', 'data-topic': topic },
          h(
            'div',
            { class: 'message-head' },
            h('code', { class: 'topic' }, topic),
            h('span', { class: 'badge', 'data-testid': 'message-qos' }, `QoS ${qos}`),
            retain ? h('span', { class: 'badge', 'data-testid': 'message-retained' }, 'retained') : null,
            dup ? h('span', { class: 'badge warn' }, 'dup') : null,
            properties?.contentType ? h('span', { class: 'badge' }, properties.contentType) : null,
            body.encoding === 'hex' ? h('span', { class: 'badge' }, 'hex') : null,
            time(),
          ),
          userPropertyList(properties?.userProperties),
          h('pre', { class: 'payload', 'data-testid': 'message-payload' }, body.text),
        ),
      );
      count();
    },

    /**
     * One of our publishes, shown as sent; settle() with the client's answer marks it acknowledged or refused
     * (5.0 PUBACK / PUBREC reason code ≥ 0x80 [MQTT-3.4.2-1 v5] [MQTT-3.5.2-1 v5]), fail() with an error.
     */
    addPublished({ topic, payload, qos, retain, userProperties }) {
      const outcome = h('span', { class: 'badge', 'data-testid': 'publish-outcome' }, qos === 0 ? 'sent' : 'waiting for the ack…');
      const item = h(
        'li',
        { class: 'message outgoing', 'data-testid': 'published', 'data-topic': topic },
        h(
          'div',
          { class: 'message-head' },
          h('span', { class: 'direction', 'aria-label': 'published by this client' }, '↑'),
          h('code', { class: 'topic' }, topic),
          h('span', { class: 'badge' }, `QoS ${qos}`),
          retain ? h('span', { class: 'badge' }, 'retain') : null,
          outcome,
          time(),
        ),
        userPropertyList(userProperties),
        h('pre', { class: 'payload' }, payload),
      );
      add(item);
      const mark = (text, refused) => {
        outcome.textContent = text;
        outcome.className = refused ? 'badge warn' : 'badge ok';
        item.classList.toggle('refused', refused);
      };
      return {
        /** `answer` is what MqttClient.publish resolved with: undefined for QoS 0, else { reasonCode, reasonString? }. */
        settle(answer, version) {
          if (!answer) return;
          if (version !== 5) return mark(qos === 1 ? 'PUBACK received' : 'PUBREC, PUBCOMP received', false);
          const words = `${describeReason(answer.reasonCode)}${answer.reasonString ? ` (${answer.reasonString})` : ''}`;
          if (isFailure(answer.reasonCode)) mark(`refused: ${words}`, true);
          else mark(qos === 1 ? `PUBACK ${words}` : `PUBREC ${words}, PUBCOMP received`, false);
        },
        fail(error) {
          mark(`not acknowledged: ${error.message}`, true);
        },
      };
    },

    /** A line about the connection (connected, CONNACK, disconnected…). */
    addEvent(text) {
      add(h('li', { class: 'event', 'data-testid': 'client-event' }, h('span', null, text), ' ', time()));
    },

    clear,
  };
}
