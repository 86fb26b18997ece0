// The peer broker: aedes 1.2.0 over WebSocket (subprotocol "mqtt") on 127.0.0.1, in its own process so it
// shares no event loop with the load generator. Started by run.mjs through fork(); reports its port over IPC
// and exits when the parent goes away.
import { Aedes } from 'aedes';
import { WebSocketServer, createWebSocketStream } from 'ws';

const coalesce = process.env.BENCH_AEDES_RAW_FRAMES !== '1';
const aedes = await Aedes.createBroker();
const wss = new WebSocketServer({
  host: '127.0.0.1',
  port: 0,
  perMessageDeflate: false,
  handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : protocols.has('mqttv3.1') ? 'mqttv3.1' : false),
});
wss.on('connection', (ws) => {
  const stream = createWebSocketStream(ws);
  if (coalesce) {
    // mqtt-packet corks the stream and writes a packet in pieces; ws's stream has no _writev, so each piece
    // would go out as its own WebSocket frame (3–4 per PUBLISH). Send what one tick wrote as one message, as
    // our broker sends a batch: fewer frames for both the peer and the load generator to handle.
    stream._writev = (chunks, callback) => {
      ws.send(chunks.length === 1 ? chunks[0].chunk : Buffer.concat(chunks.map((c) => c.chunk)), callback);
    };
  }
  stream.on('error', () => {}); // a client reset is not the broker's failure
  aedes.handle(stream);
});
wss.on('listening', () => process.send?.({ port: wss.address().port }));
// The bench asks for a collection before it reads this process's RSS (node runs it with --expose-gc).
process.on('message', (m) => {
  if (m?.gc && typeof globalThis.gc === 'function') globalThis.gc();
  if (m?.gc) process.send?.({ gcDone: m.gc });
});
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
