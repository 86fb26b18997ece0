// The broker's limits by the names its statistics and event log use (limitHits, an event's "limit"), in words.

const LABELS = {
  publish_rate: 'Publish rate (MQTT)',
  http_publish_rate: 'Publish rate (HTTP)',
  message_size: 'Message size',
  subscriptions: 'Subscriptions per session',
  filters_per_subscribe: 'Filters per SUBSCRIBE',
  connections: 'Connections per token',
  sessions: 'Sessions of the tenant',
  client_id: 'Client id not allowed',
  retained: 'Retained messages',
  tokens: 'Tokens of the tenant',
  queued_messages: 'Queued messages dropped',
  queued_bytes: 'Queued bytes dropped',
};

/** 'publish_rate' → 'Publish rate (MQTT)'; a name this list does not know yet → 'Some new limit'. */
export function limitLabel(name) {
  if (LABELS[name]) return LABELS[name];
  const words = String(name).replaceAll('_', ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}
