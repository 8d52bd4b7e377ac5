#!/usr/bin/env node
// Drive MQTT.js through MQTT scenarios so tests/vectors/capture/proxy.py can
// record the packets.  Used by tests/vectors/capture/capture.sh.
//
//   node capture.js --port 18851 --version 5 --scenario session
//
// --version: 3 (MQTT 3.1, "MQIsdp"), 4 (3.1.1) or 5 (5.0)
// --scenario:
//   session  connect (will, username/password, keepalive 1, v5 properties),
//            subscribe with options, publish QoS 0/1/2 with properties and
//            receive them back, idle for PINGREQ/PINGRESP, unsubscribe, end.
//   refused  connect to a listener that refuses the client (CONNACK != 0).
//   badauth  (v5) connect with an authentication method the broker does not
//            support (CONNACK 0x8C).
'use strict'

const mqtt = require('mqtt')

function parseArgs (argv) {
  const out = {}
  for (let i = 2; i < argv.length; i += 2) {
    out[argv[i].replace(/^--/, '')] = argv[i + 1]
  }
  for (const k of ['port', 'version', 'scenario']) {
    if (!out[k]) throw new Error('missing --' + k)
  }
  out.port = Number(out.port)
  out.version = Number(out.version)
  return out
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

function log (...args) {
  console.error('mqttjs:', ...args)
}

function baseOptions (args, clientId) {
  const o = {
    host: '127.0.0.1',
    port: args.port,
    protocol: 'mqtt',
    clientId,
    protocolVersion: args.version,
    reconnectPeriod: 0,
    connectTimeout: 5000
  }
  if (args.version === 3) o.protocolId = 'MQIsdp'
  return o
}

function waitMessages (client, n, ms = 5000) {
  return new Promise((resolve, reject) => {
    const got = []
    const timer = setTimeout(() => reject(new Error(`got ${got.length} of ${n} messages`)), ms)
    client.on('message', (topic, payload, packet) => {
      got.push(packet)
      if (got.length === n) {
        clearTimeout(timer)
        resolve(got)
      }
    })
  })
}

async function session (args) {
  const v5 = args.version === 5
  const base = `tern/mqttjs/v${args.version}`
  const opts = baseOptions(args, `tern-mqttjs-${args.version}`)
  Object.assign(opts, {
    clean: true,
    keepalive: 1,
    username: 'tern-user',
    password: Buffer.from('tern-pass'),
    will: {
      topic: `${base}/will`,
      payload: Buffer.from('mqttjs gone'),
      qos: 2,
      retain: false
    }
  })
  if (v5) {
    opts.properties = {
      sessionExpiryInterval: 30,
      receiveMaximum: 100,
      maximumPacketSize: 65536,
      topicAliasMaximum: 8,
      requestResponseInformation: true,
      requestProblemInformation: true,
      userProperties: { client: 'mqtt.js', multi: ['one', 'two'] }
    }
    opts.will.properties = {
      willDelayInterval: 10,
      payloadFormatIndicator: true,
      messageExpiryInterval: 60,
      contentType: 'text/plain',
      responseTopic: `${base}/will/reply`,
      correlationData: Buffer.from('will-corr'),
      userProperties: { will: 'yes' }
    }
  }
  const client = await mqtt.connectAsync(opts)
  log('connected v' + args.version)

  const filters = {}
  filters[`${base}/q0`] = { qos: 0 }
  filters[`${base}/+/q1`] = { qos: 1 }
  filters[`${base}/q2/#`] = { qos: 2 }
  let subOpts = {}
  if (v5) {
    filters[`${base}/+/q1`] = { qos: 1, nl: false, rap: true, rh: 1 }
    filters[`${base}/q2/#`] = { qos: 2, nl: false, rap: false, rh: 2 }
    filters[`${base}/nl`] = { qos: 1, nl: true, rap: true, rh: 0 }
    subOpts = {
      properties: { subscriptionIdentifier: 7, userProperties: { sub: 'mqtt.js' } }
    }
  }
  const granted = await client.subscribeAsync(filters, subOpts)
  log('granted', JSON.stringify(granted))

  const expected = v5 ? 6 : 4
  const received = waitMessages(client, expected)
  const p = (props) => (v5 ? { properties: props } : {})
  await client.publishAsync(`${base}/q0`, 'js qos0', {
    qos: 0,
    ...p({ payloadFormatIndicator: true, contentType: 'text/plain', userProperties: { n: '0' } })
  })
  await client.publishAsync(`${base}/a/q1`, 'js qos1', {
    qos: 1,
    ...p({
      messageExpiryInterval: 3600,
      responseTopic: `${base}/reply`,
      correlationData: Buffer.from([0xde, 0xad, 0xbe, 0xef]),
      userProperties: { n: '1' }
    })
  })
  await client.publishAsync(`${base}/q2/x/y`, Buffer.from([0, 1, 2, 3, 255]), {
    qos: 2,
    ...p({
      payloadFormatIndicator: false,
      contentType: 'application/octet-stream',
      userProperties: { n: '2', m: ['a', 'b'] }
    })
  })
  await client.publishAsync(`${base}/b/q1`, '', { qos: 1, retain: false })
  if (v5) {
    // Topic alias: register alias 2 with the full topic, then use it alone.
    await client.publishAsync(`${base}/q2/alias`, 'alias set', {
      qos: 1, properties: { topicAlias: 2 }
    })
    await client.publishAsync('', 'alias used', {
      qos: 2, properties: { topicAlias: 2 }
    })
    // No-local subscription: not echoed back.
    await client.publishAsync(`${base}/nl`, 'not echoed', { qos: 1 })
  }
  await received
  log('received', expected)

  // Idle past the 1 s keepalive so PINGREQ/PINGRESP are exchanged.
  await sleep(2500)

  const unsub = Object.keys(filters)
  await client.unsubscribeAsync(unsub, v5 ? { properties: { userProperties: { unsub: 'mqtt.js' } } } : undefined)

  if (v5) {
    await client.endAsync(false, {
      reasonCode: 0,
      properties: {
        sessionExpiryInterval: 0,
        reasonString: 'capture done',
        userProperties: { bye: 'mqtt.js' }
      }
    })
  } else {
    await client.endAsync()
  }
  log('ended')
}

async function refused (args, extra) {
  const opts = Object.assign(baseOptions(args, `tern-mqttjs-r${args.version}`), {
    clean: true,
    keepalive: 30
  }, extra)
  try {
    const c = await mqtt.connectAsync(opts)
    log('unexpectedly connected')
    await c.endAsync()
    process.exitCode = 1
  } catch (err) {
    log('refused as expected:', err.code, err.message)
  }
}

async function main () {
  const args = parseArgs(process.argv)
  if (args.scenario === 'session') {
    await session(args)
  } else if (args.scenario === 'refused') {
    await refused(args, { username: 'nobody', password: Buffer.from('wrong') })
  } else if (args.scenario === 'badauth') {
    await refused(args, {
      properties: { authenticationMethod: 'TERN-UNSUPPORTED', authenticationData: Buffer.from('abc') }
    })
  } else {
    throw new Error('unknown scenario ' + args.scenario)
  }
}

main().then(() => process.exit(process.exitCode || 0), (err) => {
  log('error:', err && err.stack ? err.stack : err)
  process.exit(2)
})
