// MQTT.js interop scenario: subscribe, publish 5 messages at a QoS, receive
// them back in order, unsubscribe, end. Prints "ok" on success.
//   node interop.js PORT PROTOCOL_VERSION QOS TOPIC
//   node interop.js ws://127.0.0.1:PORT/mqtt PROTOCOL_VERSION QOS TOPIC [CA_FILE]   (ws://, wss://)
const fs = require('fs');
const mqtt = require('mqtt');
const [port, version, qos, topic, ca] = process.argv.slice(2);
const url = port.includes('://') ? port : `mqtt://127.0.0.1:${port}`;
const opts = { protocolVersion: Number(version), clean: true, connectTimeout: 5000, reconnectPeriod: 0 };
if (ca) opts.ca = fs.readFileSync(ca);
const fail = (why) => { console.error(why); process.exit(1); };
setTimeout(() => fail('timeout'), 15000).unref();

const sub = mqtt.connect(url, opts);
sub.on('error', (e) => fail('sub: ' + e.message));
sub.on('connect', () => {
  sub.subscribe(topic, { qos: Number(qos) }, (err, granted) => {
    if (err) fail(err.message);
    if (granted[0].qos !== Number(qos)) fail('granted ' + JSON.stringify(granted));
    const pub = mqtt.connect(url, opts);
    pub.on('error', (e) => fail('pub: ' + e.message));
    pub.on('connect', () => {
      let left = 5;
      for (let i = 0; i < 5; i++) {
        pub.publish(topic, `m${i}`, { qos: Number(qos) }, (e) => {
          if (e) fail(e.message);
          if (--left === 0) pub.end();
        });
      }
    });
  });
});
const got = [];
sub.on('message', (t, payload) => {
  got.push(payload.toString());
  if (got.length === 5) {
    if (got.join(',') !== 'm0,m1,m2,m3,m4') fail('got ' + got.join(','));
    sub.unsubscribe(topic, () => { sub.end(); console.log('ok'); process.exit(0); });
  }
});
