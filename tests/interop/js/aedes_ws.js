// A third-party WebSocket broker for tern's client: aedes (npm) behind a
// `ws` WebSocket server on a port, its stream given to aedes per connection.
// Prints "listening PORT" once it accepts.
//   node aedes_ws.js PORT
const { Aedes } = require('aedes');
const { WebSocketServer, createWebSocketStream } = require('ws');

async function main() {
  const port = Number(process.argv[2] || 0);
  const broker = await Aedes.createBroker();
  const wss = new WebSocketServer({
    port,
    host: '127.0.0.1',
    handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : false),
  });
  wss.on('connection', (socket) => broker.handle(createWebSocketStream(socket)));
  wss.on('listening', () => console.log('listening ' + wss.address().port));
}
main().catch((e) => { console.error(e); process.exit(1); });
