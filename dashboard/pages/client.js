// The MQTT web client (like flespi's MQTT Board): connect over WebSocket with a token (MQTT 5.0 or 3.1.1, with
// a will), subscribe, publish with user properties, watch messages arrive with the server's reason codes.
// The connection lives as long as the signed-in dashboard, across pages.
import { field, h, replace } from '../dom.js';
import { MqttClient } from '../mqtt-client.js';
import { describeReason, isFailure } from '../reason-codes.js';
import { isValidTopicFilter } from '../topic-filter.js';
import { notify } from '../ui.js';
import { createUserPropertiesEditor } from '../user-properties.js';
import { createMessageLog } from './client-log.js';

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
  return h('select', { 'aria-label': label }, ['0', '1', '2'].map((qos) => h('option', { value: qos }, qos)));
}

/** A topic name to publish to: not empty, no wildcards [MQTT-3.3.2-2]. */
function isTopicName(topic) {
  return topic !== '' && !/[+#]/.test(topic);
}

export function createClientPage(ctx) {
  // ---- connection ----
  const url = h('input', { type: 'url', value: defaultBrokerUrl(), autocomplete: 'off', spellcheck: 'false' });
  const token = h('input', { type: 'password', value: ctx.auth.kind === 'master' ? ctx.auth.token : '', autocomplete: 'off', spellcheck: 'false' });
  const clientId = h('input', { type: 'text', value: randomClientId(), autocomplete: 'off', spellcheck: 'false' });
  const keepalive = h('input', { type: 'number', min: 0, max: 65535, value: '30', inputmode: 'numeric' });
  const version = h('select', null, h('option', { value: '5' }, 'MQTT 5.0'), h('option', { value: '4' }, 'MQTT 3.1.1'));
  const sessionExpiry = h('input', { type: 'number', min: 0, max: 4294967295, value: '0', inputmode: 'numeric' });
  const clean = h('input', { type: 'checkbox', checked: true });
  const willTopic = h('input', { type: 'text', value: '', placeholder: 'none', autocomplete: 'off', spellcheck: 'false' });
  const willPayload = h('textarea', { rows: 2, spellcheck: 'false' });
  const willQos = qosSelect('Will QoS');
  const willRetain = h('input', { type: 'checkbox' });
  const connectButton = h('button', { type: 'submit', class: 'primary' }, 'Connect');
  const disconnectButton = h('button', { type: 'button', disabled: true }, 'Disconnect');
  const statusText = h('span', null, 'Disconnected');
  const statusDetail = h('small', { class: 'status-detail', 'data-testid': 'client-status-detail' });
  const status = h('p', { class: 'status', role: 'status', 'data-testid': 'client-status', 'data-state': 'closed' }, statusText, statusDetail);
  const connectForm = h(
    'form',
    { class: 'card', 'aria-label': 'Connection', novalidate: true },
    h('h2', null, 'Connection'),
    h(
      'div',
      { class: 'grid' },
      field('Broker URL', url),
      field('Token', token, 'the MQTT username; the password stays empty'),
      field('Client id', clientId),
      field('Protocol', version),
      field('Keepalive (s)', keepalive),
      field('Session expiry (s)', sessionExpiry, 'MQTT 5.0: how long the session outlives the connection'),
    ),
    h('label', { class: 'check' }, clean, 'Clean session'),
    h(
      'details',
      { class: 'will' },
      h('summary', null, 'Will message'),
      h('p', { class: 'hint' }, 'Published by the broker when this connection ends without a DISCONNECT.'),
      field('Will topic', willTopic),
      field('Will payload', willPayload),
      h('div', { class: 'inline-form' }, field('Will QoS', willQos), h('label', { class: 'check' }, willRetain, 'Will retain')),
    ),
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
  const userProperties = createUserPropertiesEditor();
  const publishForm = h(
    'form',
    { class: 'card', 'aria-label': 'Publish', novalidate: true },
    h('h2', null, 'Publish'),
    field('Topic', topic),
    field('Payload', payload),
    userProperties.el,
    h('div', { class: 'inline-form' }, field('QoS', pubQos), h('label', { class: 'check' }, retain, 'Retain'), h('button', { type: 'submit', class: 'primary' }, 'Publish')),
  );

  const log = createMessageLog();

  const el = h(
    'section',
    { class: 'page', 'aria-labelledby': 'client-title', hidden: true },
    h('div', { class: 'page-head' }, h('h1', { id: 'client-title' }, 'MQTT client')),
    h('div', { class: 'board' }, h('div', { class: 'board-controls' }, connectForm, subscribeForm, publishForm), log.el),
  );

  /** @type {MqttClient | undefined} */
  let client;
  /** filter → row element, for the connection's subscriptions. */
  const subscriptionRows = new Map();

  function setStatus(state, text, detail = '') {
    status.dataset.state = state;
    statusText.textContent = text;
    statusDetail.textContent = detail;
    ctx.clientBadge(state, `MQTT client: ${state === 'connected' ? 'connected' : state === 'connecting' ? 'connecting…' : state === 'lost' ? 'cut off' : 'offline'}`);
    const busy = state === 'connected' || state === 'connecting';
    connectButton.disabled = busy;
    disconnectButton.disabled = !busy;
    for (const input of [url, token, clientId, keepalive, version, sessionExpiry, clean, willTopic, willPayload, willQos, willRetain]) input.disabled = busy;
    if (!busy) followVersion();
  }

  /** The fields that only 5.0 has follow the protocol choice. */
  function followVersion() {
    const v5 = version.value === '5';
    sessionExpiry.disabled = !v5;
    userProperties.setEnabled(v5);
  }
  version.addEventListener('change', followVersion);

  function willOption() {
    const to = willTopic.value.trim();
    if (!to) return undefined;
    return { topic: to, payload: willPayload.value, qos: Number(willQos.value), retain: willRetain.checked };
  }

  /** What the CONNACK said, in a line: reason code, session present, and what the server assigned or limits. */
  function describeConnack(instance, { sessionPresent, reasonCode, properties }) {
    const parts = [instance.version === 5 ? `CONNACK ${describeReason(reasonCode, 'connack')}` : 'CONNACK 0 (accepted)', `session present: ${sessionPresent ? 'yes' : 'no'}`];
    if (properties.assignedClientIdentifier) parts.push(`assigned client id ${properties.assignedClientIdentifier}`);
    if (properties.serverKeepAlive !== undefined) parts.push(`server keep alive ${properties.serverKeepAlive} s`);
    if (properties.receiveMaximum !== undefined) parts.push(`receive maximum ${properties.receiveMaximum}`);
    if (properties.maximumQoS !== undefined) parts.push(`maximum QoS ${properties.maximumQoS}`);
    return parts.join(' · ');
  }

  connectForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!token.value.trim()) return void setStatus('closed', 'Enter a token to connect.');
    const will = willOption();
    if (will && !isTopicName(will.topic)) return void setStatus('closed', 'The will topic is a topic name: no + or # wildcards.');
    const id = clientId.value.trim();
    const protocolVersion = Number(version.value);
    const instance = new MqttClient({
      url: url.value.trim(),
      clientId: id,
      protocolVersion,
      username: token.value.trim(),
      keepalive: Number(keepalive.value) || 0,
      clean: clean.checked,
      sessionExpiryInterval: Number(sessionExpiry.value) || 0,
      ...(will ? { will } : {}),
    });
    client = instance;
    instance.addEventListener('message', (e) => log.addMessage(e.detail));
    instance.addEventListener('close', (e) => {
      if (client !== instance) return;
      const { byServer, reason, code, wsReason, disconnect } = e.detail;
      if (byServer) {
        // The reason is the server's DISCONNECT (5.0) or the plain fact of the close; the WebSocket code is a detail.
        const detail = disconnect?.serverReference ? `use another server: ${disconnect.serverReference}` : disconnect ? '' : `WebSocket close code ${code}${wsReason ? ` (${wsReason})` : ''}`;
        setStatus('lost', `Disconnected: ${reason}`, detail);
        log.addEvent(reason);
      } else {
        setStatus('closed', `Disconnected${reason && reason !== 'client disconnect' ? `: ${reason}` : ''}`);
      }
      subscriptionRows.clear();
      replace(subscriptions);
    });
    const label = protocolVersion === 5 ? 'MQTT 5.0' : 'MQTT 3.1.1';
    setStatus('connecting', `Connecting to ${url.value.trim()} as ${id} (${label})…`);
    try {
      const connack = await instance.connect();
      const said = describeConnack(instance, connack);
      setStatus('connected', `Connected as ${id} (${label})${connack.sessionPresent ? ', session resumed' : ''}`, said);
      log.addEvent(`connected as ${id}: ${said}`);
    } catch (error) {
      if (client === instance) setStatus('closed', `Not connected: ${error.message}`);
    }
  });

  disconnectButton.addEventListener('click', () => {
    client?.disconnect();
    log.addEvent('disconnected');
  });

  /** A SUBACK code in words: the granted QoS, or the refusal (5.0 reason code, 3.1.1 0x80). */
  function describeGrant(instance, asked, { reasonCode, reasonString }) {
    const why = reasonString ? ` (${reasonString})` : '';
    if (isFailure(reasonCode)) return instance.version === 5 ? `refused: ${describeReason(reasonCode, 'suback')}${why}` : 'refused (0x80)';
    return `QoS ${reasonCode} granted${reasonCode < asked ? ` (asked for ${asked})` : ''}${why}`;
  }

  subscribeForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const wanted = filter.value.trim();
    const instance = client;
    if (!instance || instance.state !== 'connected') return notify('Connect first.', 'error');
    if (!isValidTopicFilter(wanted)) return notify('Enter a topic filter (+ for one level, # as the last level).', 'error');
    const qos = Number(subQos.value);
    try {
      const answer = await instance.subscribe(wanted, qos);
      const refused = isFailure(answer.reasonCode);
      subscriptionRows.get(wanted)?.remove();
      const unsubscribe = h('button', { type: 'button', class: 'link', 'aria-label': `Unsubscribe ${wanted}` }, refused ? 'Remove' : 'Unsubscribe');
      const row = h(
        'li',
        { 'data-testid': 'subscription', 'data-filter': wanted, class: refused ? 'refused' : undefined },
        h('code', null, wanted),
        h('span', { class: refused ? 'badge warn' : 'muted', 'data-testid': 'suback' }, describeGrant(instance, qos, answer)),
        unsubscribe,
      );
      unsubscribe.addEventListener('click', async () => {
        if (!refused && client?.state === 'connected') {
          const done = await client.unsubscribe(wanted).catch((error) => void notify(`Unsubscribe: ${error.message}`, 'error'));
          if (done && isFailure(done.reasonCode)) notify(`Unsubscribe ${wanted}: ${describeReason(done.reasonCode, 'unsuback')}`, 'error');
        }
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
    const instance = client;
    if (!instance || instance.state !== 'connected') return notify('Connect first.', 'error');
    if (!isTopicName(to)) return notify('A topic is not empty and has no + or # wildcards.', 'error');
    const pairs = userProperties.pairs();
    if (pairs.length > 0 && instance.version !== 5) return notify('User properties need an MQTT 5.0 connection.', 'error');
    const qos = Number(pubQos.value);
    const entry = log.addPublished({ topic: to, payload: payload.value, qos, retain: retain.checked, userProperties: pairs });
    try {
      const answer = await instance.publish(to, payload.value, { qos, retain: retain.checked, userProperties: pairs });
      entry.settle(answer, instance.version);
      if (answer && isFailure(answer.reasonCode)) notify(`The broker refused the publish to “${to}”: ${describeReason(answer.reasonCode)}.`, 'error');
    } catch (error) {
      entry.fail(error);
      notify(`Publish: ${error.message}`, 'error');
    }
  });

  followVersion();
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
