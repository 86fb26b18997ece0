// The peer broker: aedes 1.2.0 over WebSocket (subprotocol "mqtt") on 127.0.0.1, in its own process so it
// shares no event loop with the load generator. Started by run.mjs through fork(); reports its port over IPC
// and exits when the parent goes away.
import { Aedes } from 'aedes';
import { WebSocketServer, createWebSocketStream } from 'ws';

const aedes = await Aedes.createBroker();
const wss = new WebSocketServer({
  host: '127.0.0.1',
  port: 0,
  perMessageDeflate: false,
  handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : protocols.has('mqttv3.1') ? 'mqttv3.1' : false),
});
wss.on('connection', (ws) => {
  const stream = createWebSocketStream(ws);
  stream.on('error', () => {}); // a client reset is not the broker's failure
  aedes.handle(stream);
});
wss.on('listening', () => process.send?.({ port: wss.address().port }));
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
