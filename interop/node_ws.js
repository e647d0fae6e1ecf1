#!/usr/bin/env node
// Node `ws` as a peer of wsmachine.
//
//   node node_ws.js server         echo server on 127.0.0.1:0; prints `PORT n`
//   node node_ws.js client URL     runs the exchanges against URL; one line each
//
// The server echoes every message and, on the text `close-me CODE REASON`,
// closes the connection itself with that code and reason. The client uses
// the library's defaults (it offers permessage-deflate) except for the size
// limit. Installed by `npm ci --prefix interop`.
'use strict';
const path = require('path');
const { WebSocket, WebSocketServer } = require('ws');

const MAX_SIZE = 64 << 20;
const EXCHANGE_TIMEOUT_MS = 30000;
const TEXT = 'hello from the peer, κόσμε 🌍';
const FRAGMENTED_TEXT = Buffer.from('fragments: κόσμε');
const PING_PAYLOAD = Buffer.from('ping payload \x00\xff 123', 'latin1');
const SIZES = [125, 126, 65535, 65536, 16 << 20];

function pattern(n) {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = i % 251;
  return b;
}

function server() {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: MAX_SIZE, perMessageDeflate: false });
  wss.on('listening', () => console.log(`PORT ${wss.address().port}`));
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? null : data.toString();
      if (text !== null && text.startsWith('close-me ')) {
        const [, code, ...reason] = text.split(' ');
        ws.close(Number(code), reason.join(' '));
        return;
      }
      ws.send(data, { binary: isBinary });
    });
    ws.on('error', () => {});
  });
}

async function client(url) {
  const ws = new WebSocket(url, { maxPayload: MAX_SIZE });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const inbox = [];
  let waiting = null;
  const deliver = (item) => {
    if (waiting) {
      const w = waiting;
      waiting = null;
      w(item);
    } else {
      inbox.push(item);
    }
  };
  ws.on('message', (data, isBinary) => deliver({ kind: 'message', data, isBinary }));
  ws.on('pong', (data) => deliver({ kind: 'pong', data }));
  ws.on('close', (code, reason) => deliver({ kind: 'close', code, reason: reason.toString() }));
  const next = () => (inbox.length ? Promise.resolve(inbox.shift()) : new Promise((r) => (waiting = r)));
  const expectMessage = async (data, isBinary) => {
    const got = await next();
    if (got.kind !== 'message') return `expected the echo, got a ${got.kind}`;
    if (got.isBinary !== isBinary) return `echo came back as ${got.isBinary ? 'binary' : 'text'}`;
    if (!Buffer.from(got.data).equals(Buffer.from(data))) return `echo differs (${got.data.length} bytes)`;
    return null;
  };
  const echoOf = async (data, isBinary) => {
    ws.send(data, { binary: isBinary });
    return expectMessage(data, isBinary);
  };
  const exchanges = [
    ['text', () => echoOf(TEXT, false)],
    ['binary', () => echoOf(pattern(256), true)],
    ['empty-text', () => echoOf('', false)],
    ['empty-binary', () => echoOf(Buffer.alloc(0), true)],
    ...SIZES.map((n) => [n === 16 << 20 ? 'size-16MiB' : `size-${n}`, () => echoOf(pattern(n), true)]),
    ['fragmented-text', async () => {
      // Text fragments as raw bytes, so "ό" is split across two of them.
      ws.send(FRAGMENTED_TEXT.subarray(0, 11), { binary: false, fin: false });
      ws.send(FRAGMENTED_TEXT.subarray(11, 14), { binary: false, fin: false });
      ws.send(FRAGMENTED_TEXT.subarray(14), { binary: false, fin: true });
      return expectMessage(FRAGMENTED_TEXT, false);
    }],
    ['fragmented-binary-with-ping', async () => {
      const data = pattern(3000);
      ws.send(data.subarray(0, 1000), { binary: true, fin: false });
      ws.ping(Buffer.from('between fragments'));
      ws.send(data.subarray(1000, 2000), { binary: true, fin: false });
      ws.send(data.subarray(2000), { binary: true, fin: true });
      const pong = await next();
      if (pong.kind !== 'pong' || pong.data.toString() !== 'between fragments') return `expected the pong, got a ${pong.kind}`;
      return expectMessage(data, true);
    }],
    ['ping', async () => {
      ws.ping(PING_PAYLOAD);
      const got = await next();
      if (got.kind !== 'pong') return `expected the pong, got a ${got.kind}`;
      return got.data.equals(PING_PAYLOAD) ? null : 'pong payload differs';
    }],
    ['deflate-declined', async () => (ws.extensions === '' ? null : `the server accepted ${ws.extensions}`)],
    ['close-by-client', async () => {
      ws.close(4001, 'peer says bye');
      const got = await next();
      if (got.kind !== 'close') return `expected the close, got a ${got.kind}`;
      return got.code === 4001 ? null : `expected the server to echo 4001, got ${got.code}`;
    }],
  ];
  let failed = 0;
  for (const [name, run] of exchanges) {
    let error;
    try {
      let timer;
      const timeout = new Promise((r) => (timer = setTimeout(() => r(`timed out after ${EXCHANGE_TIMEOUT_MS / 1000} s`), EXCHANGE_TIMEOUT_MS)));
      error = await Promise.race([run(), timeout]);
      clearTimeout(timer);
    } catch (e) {
      error = String(e);
    }
    console.log(error ? `FAIL ${name}: ${error}` : `ok ${name}`);
    if (error) failed++;
  }
  ws.terminate();
  return failed;
}

const [mode, url] = process.argv.slice(2);
if (mode === '--version') {
  console.log(require(path.join(path.dirname(require.resolve('ws')), 'package.json')).version);
} else if (mode === 'server') {
  server();
} else {
  client(url).then((failed) => process.exit(failed ? 1 : 0), (e) => {
    console.log(`FAIL connect: ${e}`);
    process.exit(1);
  });
}
