// @ts-check
// The gateway's log lines: one when a connection opens, one when it closes, greppable by #id.

/** @param {{ id: number, remote: string, listener: 'tcp' | 'tls' }} connection */
export function openLine({ id, remote, listener }) {
  return `open  #${id} ${remote} (${listener})`;
}

/** @param {import('./connection.js').ConnectionSummary} summary */
export function closeLine({ id, remote, bytesUpstream, bytesDownstream, durationMs, reason, detail }) {
  const seconds = (durationMs / 1000).toFixed(1);
  return `close #${id} ${remote} up=${bytesUpstream}B down=${bytesDownstream}B ${seconds}s ${reason}${detail ? ` (${detail})` : ''}`;
}
