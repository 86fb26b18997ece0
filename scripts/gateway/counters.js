// @ts-check
// The gateway's counters, one object for the whole process, and their two renderings: Prometheus text
// (GET /metrics) and JSON (GET /stats).

/** @typedef {import('./index.js').GatewayCounters} GatewayCounters */
/** @typedef {import('./index.js').GatewayStats} GatewayStats */

/** @returns {GatewayCounters} */
export function createCounters() {
  return {
    connectionsActive: 0,
    connectionsTotal: 0,
    connectionsRefused: 0,
    upstreamFailures: 0,
    connectTimeouts: 0,
    idleTimeouts: 0,
    bytesUpstream: 0,
    bytesDownstream: 0,
    closes: {},
  };
}

/**
 * @param {GatewayCounters} counters
 * @param {string} reason
 */
export function countClose(counters, reason) {
  counters.closes[reason] = (counters.closes[reason] ?? 0) + 1;
}

/**
 * @param {GatewayCounters} counters
 * @param {number} bufferedBytes summed over the open connections at this moment
 * @returns {GatewayStats}
 */
export function snapshot(counters, bufferedBytes) {
  return { ...counters, closes: { ...counters.closes }, bufferedBytes };
}

/**
 * Prometheus text exposition format 0.0.4.
 * @param {GatewayStats} stats
 * @returns {string}
 */
export function renderPrometheus(stats) {
  const prefix = 'edge_mqtt_gateway';
  /** @type {string[]} */
  const lines = [];
  /**
   * @param {string} name
   * @param {'gauge' | 'counter'} type
   * @param {string} help
   * @param {Array<[string, number]>} samples label set (may be '') and value
   */
  const metric = (name, type, help, samples) => {
    lines.push(`# HELP ${prefix}_${name} ${help}`, `# TYPE ${prefix}_${name} ${type}`);
    for (const [labels, value] of samples) lines.push(`${prefix}_${name}${labels} ${value}`);
  };
  metric('connections_active', 'gauge', 'TCP connections open now.', [['', stats.connectionsActive]]);
  metric('buffered_bytes', 'gauge', 'Bytes held in connection buffers now, both directions.', [['', stats.bufferedBytes]]);
  metric('connections_total', 'counter', 'TCP connections accepted.', [['', stats.connectionsTotal]]);
  metric('connections_refused_total', 'counter', 'TCP connections refused over --max-connections.', [['', stats.connectionsRefused]]);
  metric('upstream_failures_total', 'counter', 'WebSockets to the broker that never opened.', [['', stats.upstreamFailures]]);
  metric('timeouts_total', 'counter', 'Connections closed by a gateway timeout.', [
    ['{kind="connect"}', stats.connectTimeouts],
    ['{kind="idle"}', stats.idleTimeouts],
  ]);
  metric('bytes_total', 'counter', 'Bytes relayed.', [
    ['{direction="upstream"}', stats.bytesUpstream],
    ['{direction="downstream"}', stats.bytesDownstream],
  ]);
  metric(
    'closes_total',
    'counter',
    'Closed connections by reason.',
    Object.entries(stats.closes).map(([reason, count]) => [`{reason="${reason}"}`, count]),
  );
  return `${lines.join('\n')}\n`;
}
