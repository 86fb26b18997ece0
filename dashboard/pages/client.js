// The MQTT web client (like flespi's MQTT Board): connect over WebSocket with a token, subscribe, publish,
// watch messages arrive. The connection lives as long as the signed-in dashboard, across pages.
import { describePayload, field, h, replace } from '../dom.js';
import { MqttClient } from '../mqtt-client.js';
import { notify } from '../ui.js';

const MAX_MESSAGES = 500;

function defaultBrokerUrl() {
  const url = new URL('/mqtt', location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.href;
}

function randomClientId() {
  const bytes = crypto.getRandomValues(new Uint8Array(4));
  return `board-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

function qosSelect(label) {
  return h('select', { 'aria-label': label }, h('option', { value: '0' }, '0'), h('option', { value: '1' }, '1'));
}

export function createClientPage(ctx) {
  // ---- connection ----
  const url = h('input', { type: 'url', value: defaultBrokerUrl(), autocomplete: 'off', spellcheck: 'false' });
  const token = h('input', { type: 'password', value: ctx.auth.kind === 'master' ? ctx.auth.token : '', autocomplete: 'off', spellcheck: 'false' });
  const clientId = h('input', { type: 'text', value: randomClientId(), autocomplete: 'off', spellcheck: 'false' });
  const keepalive = h('input', { type: 'number', min: 0, max: 65535, value: '30', inputmode: 'numeric' });
  const clean = h('input', { type: 'checkbox', checked: true });
  const connectButton = h('button', { type: 'submit', class: 'primary' }, 'Connect');
  const disconnectButton = h('button', { type: 'button', disabled: true }, 'Disconnect');
  const status = h('p', { class: 'status', role: 'status', 'data-testid': 'client-status', 'data-state': 'closed' }, 'Disconnected');
  const connectForm = h(
    'form',
    { class: 'card', 'aria-label': 'Connection', novalidate: true },
    h('h2', null, 'Connection'),
    h('div', { class: 'grid' }, field('Broker URL', url), field('Token', token, 'the MQTT username; the password stays empty'), field('Client id', clientId), field('Keepalive (s)', keepalive)),
    h('label', { class: 'check' }, clean, 'Clean session'),
    h('div', { class: 'actions' }, connectButton, disconnectButton),
    status,
  );

  // ---- subscribe ----
  const filter = h('input', { type: 'text', value: '#', autocomplete: 'off', spellcheck: 'false' });
  const subQos = qosSelect('Subscription QoS');
  const subscriptions = h('ul', { class: 'subs', 'aria-label': 'Subscriptions' });
  const subscribeForm = h(
    'form',
    { class: 'card', 'aria-label': 'Subscribe', novalidate: true },
    h('h2', null, 'Subscribe'),
    h('div', { class: 'inline-form' }, field('Topic filter', filter), field('QoS', subQos), h('button', { type: 'submit', class: 'primary' }, 'Subscribe')),
    subscriptions,
  );

  // ---- publish ----
  const topic = h('input', { type: 'text', value: '', placeholder: 'demo/hello', autocomplete: 'off', spellcheck: 'false' });
  const payload = h('textarea', { rows: 3, spellcheck: 'false' });
  const pubQos = qosSelect('Publish QoS');
  const retain = h('input', { type: 'checkbox' });
  const publishForm = h(
    'form',
    { class: 'card', 'aria-label': 'Publish', novalidate: true },
    h('h2', null, 'Publish'),
    field('Topic', topic),
    field('Payload', payload),
    h('div', { class: 'inline-form' }, field('QoS', pubQos), h('label', { class: 'check' }, retain, 'Retain'), h('button', { type: 'submit', class: 'primary' }, 'Publish')),
  );

  // ---- messages ----
  const log = h('ol', { class: 'messages', role: 'log', 'aria-label': 'Messages', 'aria-live': 'polite' });
  const counter = h('span', { class: 'muted', 'data-testid': 'message-count' }, '0 messages');
  const messagesCard = h(
    'div',
    { class: 'card messages-card' },
    h('div', { class: 'card-head' }, h('h2', null, 'Messages'), counter, h('button', { type: 'button', class: 'link', onclick: clearLog }, 'Clear')),
    log,
  );

  const el = h(
    'section',
    { class: 'page', 'aria-labelledby': 'client-title', hidden: true },
    h('div', { class: 'page-head' }, h('h1', { id: 'client-title' }, 'MQTT client')),
    h('div', { class: 'board' }, h('div', { class: 'board-controls' }, connectForm, subscribeForm, publishForm), messagesCard),
  );

  /** @type {MqttClient | undefined} */
  let client;
  let received = 0;
  /** filter → row element, for the connection's subscriptions. */
  const subscriptionRows = new Map();

  function setStatus(state, text) {
    status.dataset.state = state;
    status.textContent = text;
    ctx.clientBadge(state, `MQTT client: ${state === 'connected' ? 'connected' : state === 'connecting' ? 'connecting…' : state === 'lost' ? 'cut off' : 'offline'}`);
    const busy = state === 'connected' || state === 'connecting';
    connectButton.disabled = busy;
    disconnectButton.disabled = !busy;
    for (const input of [url, token, clientId, keepalive, clean]) input.disabled = busy;
  }

  connectForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!token.value.trim()) return void setStatus('closed', 'Enter a token to connect.');
    const id = clientId.value.trim();
    const instance = new MqttClient({ url: url.value.trim(), clientId: id, username: token.value.trim(), keepalive: Number(keepalive.value) || 0, clean: clean.checked });
    client = instance;
    instance.addEventListener('message', (e) => addMessage(e.detail));
    instance.addEventListener('close', (e) => {
      if (client !== instance) return;
      const { byServer, reason } = e.detail;
      setStatus(byServer ? 'lost' : 'closed', byServer ? `Disconnected: ${reason}` : `Disconnected${reason && reason !== 'client disconnect' ? `: ${reason}` : ''}`);
      if (byServer) addEvent(`connection closed by the server`);
      subscriptionRows.clear();
      replace(subscriptions);
    });
    setStatus('connecting', `Connecting to ${url.value.trim()} as ${id}…`);
    try {
      const { sessionPresent } = await instance.connect();
      setStatus('connected', `Connected as ${id}${sessionPresent ? ' (session resumed)' : ''}`);
      addEvent(`connected as ${id}`);
    } catch (error) {
      if (client === instance) setStatus('closed', `Not connected: ${error.message}`);
    }
  });

  disconnectButton.addEventListener('click', () => {
    client?.disconnect();
    addEvent('disconnected');
  });

  subscribeForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const wanted = filter.value.trim();
    if (!client || client.state !== 'connected') return notify('Connect first.', 'error');
    if (!wanted) return notify('Enter a topic filter.', 'error');
    const qos = Number(subQos.value);
    try {
      const code = await client.subscribe(wanted, qos);
      const refused = code === 0x80;
      subscriptionRows.get(wanted)?.remove();
      const unsubscribe = h('button', { type: 'button', class: 'link', 'aria-label': `Unsubscribe ${wanted}` }, refused ? 'Remove' : 'Unsubscribe');
      const row = h(
        'li',
        { 'data-testid': 'subscription', 'data-filter': wanted, class: refused ? 'refused' : undefined },
        h('code', null, wanted),
        h('span', { class: refused ? 'badge warn' : 'muted' }, refused ? 'refused (0x80)' : ` QoS ${code}`),
        unsubscribe,
      );
      unsubscribe.addEventListener('click', async () => {
        if (!refused && client?.state === 'connected') await client.unsubscribe(wanted).catch((error) => notify(`Unsubscribe: ${error.message}`, 'error'));
        row.remove();
        subscriptionRows.delete(wanted);
      });
      subscriptionRows.set(wanted, row);
      subscriptions.append(row);
      if (refused) notify(`The broker refused the subscription to “${wanted}” (not allowed by the token's ACL, or an invalid filter).`, 'error');
    } catch (error) {
      notify(`Subscribe: ${error.message}`, 'error');
    }
  });

  publishForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const to = topic.value;
    if (!client || client.state !== 'connected') return notify('Connect first.', 'error');
    if (!to || /[+#]/.test(to)) return notify('A topic is not empty and has no + or # wildcards.', 'error');
    try {
      await client.publish(to, payload.value, { qos: Number(pubQos.value), retain: retain.checked });
      notify(`Published to “${to}”.`);
    } catch (error) {
      notify(`Publish: ${error.message}`, 'error');
    }
  });

  function trim() {
    while (log.children.length > MAX_MESSAGES) log.lastElementChild?.remove();
  }

  function addMessage({ topic: from, payload: bytes, qos, retain: retained, dup }) {
    received++;
    counter.textContent = `${received} message${received === 1 ? '' : 's'}`;
    const shown = describePayload(bytes);
    const item = h(
      'li',
      { class: 'message', 'data-testid': 'message', 'data-topic': from },
      h(
        'div',
        { class: 'message-head' },
        h('code', { class: 'topic' }, from),
        h('span', { class: 'badge' }, `QoS ${qos}`),
        retained ? h('span', { class: 'badge' }, 'retained') : null,
        dup ? h('span', { class: 'badge warn' }, 'dup') : null,
        shown.encoding === 'hex' ? h('span', { class: 'badge' }, 'hex') : null,
        h('time', { class: 'muted' }, new Date().toLocaleTimeString()),
      ),
      h('pre', { class: 'payload', 'data-testid': 'message-payload' }, shown.text),
    );
    log.querySelector('.empty')?.remove();
    log.prepend(item);
    trim();
  }

  function addEvent(text) {
    log.querySelector('.empty')?.remove();
    log.prepend(h('li', { class: 'event', 'data-testid': 'client-event' }, h('span', null, text), ' ', h('time', { class: 'muted' }, new Date().toLocaleTimeString())));
    trim();
  }

  function clearLog() {
    received = 0;
    counter.textContent = '0 messages';
    replace(log, h('li', { class: 'empty' }, 'No messages yet.'));
  }

  clearLog();
  setStatus('closed', 'Disconnected');

  return {
    el,
    /** Fills in a token (e.g. one just created on the Tokens page) for the next connection. */
    useToken(value) {
      if (client?.state === 'connected' || client?.state === 'connecting') {
        notify('Disconnect first to use the new token.', 'error');
        return;
      }
      token.value = value;
    },
    dispose() {
      client?.disconnect();
      client = undefined;
    },
  };
}
