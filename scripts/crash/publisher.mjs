// The publishing side of a crash scenario: N numbered messages through one persistent mqtt.js client, a window
// in flight, and a trace of its wire (what was resent after a kill, what got PUBREC).

/**
 * Watches the client's wire: which seqs were sent, which again (resends after a kill), and for QoS 2 which
 * got a PUBREC, the point where the broker took the message over [MQTT-4.3.3-1] before PUBCOMP tells mqtt.js.
 */
export function traceWire(client, topic) {
  const seqOfPacketId = new Map();
  const trace = { firstSends: new Set(), resent: new Set(), pubrec: new Set() };
  client.on('packetsend', (packet) => {
    if (packet.cmd !== 'publish' || packet.topic !== topic) return;
    const seq = Number(packet.payload.toString());
    seqOfPacketId.set(packet.messageId, seq);
    if (trace.firstSends.has(seq)) trace.resent.add(seq);
    else trace.firstSends.add(seq);
  });
  client.on('packetreceive', (packet) => {
    if (packet.cmd !== 'pubrec' || (packet.reasonCode ?? 0) >= 0x80) return;
    const seq = seqOfPacketId.get(packet.messageId);
    if (seq !== undefined) trace.pubrec.add(seq);
  });
  return trace;
}

/**
 * Publishes "0" … "N-1" with at most `window` unacknowledged, until every callback has come back, `stopped()`
 * says so, or `boundMs` passes. `acked` holds the seqs whose callback succeeded (PUBACK, or PUBCOMP for QoS 2).
 *
 * mqtt.js resends its stored messages one by one after a reconnect before it emits 'connect'; a publish made
 * meanwhile waits in a side queue that a second kill fails, unsent, with "Connection closed". So new messages
 * go out only while connected, and one that mqtt.js dropped unsent is published again (`republished`).
 */
export function publishAll({ client, topic, qos, messages, window, boundMs, onAck, stopped }) {
  const acked = new Set();
  const failed = new Map();
  const unsent = [];
  let next = 0;
  let republished = 0;
  let inFlight = 0;
  let online = true;
  let done = false;
  return new Promise((resolve) => {
    const finish = () => {
      done = true;
      clearTimeout(bound);
      resolve({ acked, failed, published: next, republished });
    };
    const bound = setTimeout(finish, boundMs);
    const pump = () => {
      while (!done && online && inFlight < window && (unsent.length > 0 || next < messages) && !stopped()) {
        const seq = unsent.length > 0 ? unsent.shift() : next++;
        inFlight++;
        client.publish(topic, String(seq), { qos }, (error) => {
          inFlight--;
          if (error?.message === 'Connection closed') {
            unsent.push(seq);
            republished++;
            return;
          }
          if (error) failed.set(seq, error.message);
          else {
            acked.add(seq);
            onAck(acked);
          }
          if (acked.size + failed.size === messages || stopped()) finish();
          else pump();
        });
      }
    };
    client.on('close', () => (online = false));
    client.on('connect', () => {
      online = true;
      pump();
    });
    pump();
  });
}
