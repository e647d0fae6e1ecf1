#!/usr/bin/env node
// Node as an RFC 8441 peer: WebSockets over HTTP/2 with Node's `http2`
// (extended CONNECT, SETTINGS_ENABLE_CONNECT_PROTOCOL) and the `ws`
// package's framing over the stream.
//
//   node node_h2.js server       cleartext HTTP/2 (prior knowledge) on
//                                127.0.0.1:0; prints `PORT n`
//   node node_h2.js client URL   TLS HTTP/2 to URL (https://host:port/path,
//                                the test certificate accepted); runs the
//                                exchanges, one `ok NAME` / `FAIL NAME: why`
//                                line each
//
// The server echoes every message, and understands three texts:
// `ping-me P` (it pings with P and answers `pong-ok P` once the pong came
// back), `close-me CODE REASON` (it closes), and it reports each ping it
// receives as the text `got-ping P`.
//
// `ws` has no public constructor for a socket that is already open, so its
// `setSocket` is used the way its own server uses it, with the options its
// server or client constructor would fill in.
'use strict';
const http2 = require('node:http2');
const { WebSocket } = require('ws');

const MAX_SIZE = 64 << 20;
const TIMEOUT_MS = 30000;
const WS_OPTIONS = { autoPong: true, closeTimeout: 30000 };

// A `ws` WebSocket over an HTTP/2 stream that already carries it.
function wrap(stream, role) {
  if (typeof stream.setNoDelay !== 'function') stream.setNoDelay = () => {};
  const ws = new WebSocket(null, undefined, WS_OPTIONS);
  if (role === 'client') ws._isServer = false; // mask what we send
  ws.setSocket(stream, Buffer.alloc(0), { maxPayload: MAX_SIZE, allowSynchronousEvents: true });
  ws.on('error', () => {});
  return ws;
}

function server() {
  const h2 = http2.createServer({ settings: { enableConnectProtocol: true } });
  h2.on('stream', (stream, headers) => {
    if (headers[':method'] !== 'CONNECT' || headers[':protocol'] !== 'websocket') {
      stream.respond({ ':status': 404 });
      stream.end();
      return;
    }
    if (headers['sec-websocket-version'] !== '13') {
      stream.respond({ ':status': 400, 'sec-websocket-version': '13' });
      stream.end();
      return;
    }
    stream.respond({ ':status': 200 });
    const ws = wrap(stream, 'server');
    ws.on('ping', (data) => ws.send(`got-ping ${data.toString()}`));
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? null : data.toString();
      if (text !== null && text.startsWith('ping-me ')) {
        const payload = text.slice('ping-me '.length);
        ws.once('pong', (back) => ws.send(back.toString() === payload ? `pong-ok ${payload}` : `pong-wrong ${back}`));
        ws.ping(payload);
      } else if (text !== null && text.startsWith('close-me ')) {
        const [, code, ...reason] = text.split(' ');
        ws.close(Number(code), reason.join(' '));
      } else {
        ws.send(data, { binary: isBinary });
      }
    });
  });
  h2.listen(0, '127.0.0.1', () => console.log(`PORT ${h2.address().port}`));
}

function pattern(n) {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7) % 251;
  return b;
}

// A WebSocket on a new stream of `session`, with a queue of what arrives.
function open(session, url) {
  const req = session.request({
    ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'https',
    ':path': url.pathname + url.search, ':authority': url.host, 'sec-websocket-version': '13',
  });
  return new Promise((resolve, reject) => {
    req.once('error', reject);
    req.once('response', (headers) => {
      if (headers[':status'] !== 200) return reject(new Error(`status ${headers[':status']}`));
      const ws = wrap(req, 'client');
      const inbox = [];
      let waiting = null;
      const deliver = (item) => (waiting ? (waiting(item), (waiting = null)) : inbox.push(item));
      ws.on('message', (data, isBinary) => deliver({ data, isBinary }));
      ws.on('pong', (data) => deliver({ pong: data }));
      ws.on('close', (code, reason) => deliver({ close: code, reason: reason.toString() }));
      ws.next = () => new Promise((res, rej) => {
        if (inbox.length) return res(inbox.shift());
        waiting = res;
        setTimeout(() => rej(new Error('nothing arrived in time')), TIMEOUT_MS);
      });
      resolve(ws);
    });
  });
}

async function echoes(ws, data, isBinary) {
  ws.send(data, { binary: isBinary });
  const got = await ws.next();
  if (got.isBinary !== isBinary || !Buffer.from(got.data).equals(Buffer.from(data))) {
    throw new Error(`the echo differs (${got.data ? got.data.length : 'no'} bytes, binary=${got.isBinary})`);
  }
}

async function client(target) {
  const url = new URL(target);
  const session = http2.connect(`https://${url.host}`, { rejectUnauthorized: false });
  session.on('error', () => {});
  await new Promise((resolve, reject) => {
    session.once('remoteSettings', resolve);
    session.once('error', reject);
  });
  const results = [];
  const check = async (name, body) => {
    try {
      await body();
      results.push(`ok ${name}`);
    } catch (e) {
      results.push(`FAIL ${name}: ${e.message}`);
    }
  };
  await check('settings-enable-connect-protocol', async () => {
    if (!session.remoteSettings.enableConnectProtocol) throw new Error('the server did not enable extended CONNECT');
  });
  const ws = await open(session, url);
  await check('text', () => echoes(ws, 'hello over HTTP/2, κόσμε 🌍', false));
  await check('binary', () => echoes(ws, Buffer.from([0, 1, 2, 253, 254, 255]), true));
  await check('1MiB', () => echoes(ws, pattern(1 << 20), true));
  await check('ping', async () => {
    ws.ping('are you there');
    const got = await ws.next();
    if (!got.pong || got.pong.toString() !== 'are you there') throw new Error(`expected the pong, got ${JSON.stringify(got)}`);
  });
  await check('close', async () => {
    ws.close(1000, 'bye');
    const got = await ws.next();
    if (got.close !== 1000 || got.reason !== 'bye') throw new Error(`closed with ${got.close} ${got.reason}`);
  });
  await check('multiplexed-after-close', async () => {
    const sockets = await Promise.all(Array.from({ length: 10 }, () => open(session, url)));
    await Promise.all(sockets.map((s, i) => echoes(s, `socket ${i}`, false)));
    await Promise.all(sockets.map(async (s) => {
      s.close(1000, '');
      const got = await s.next();
      if (got.close !== 1000) throw new Error(`closed with ${got.close}`);
    }));
  });
  session.close();
  for (const line of results) console.log(line);
  process.exit(results.some((l) => l.startsWith('FAIL')) ? 1 : 0);
}

const [mode, url] = process.argv.slice(2);
if (mode === 'server') server();
else if (mode === 'client' && url) client(url).catch((e) => { console.log(`FAIL connect: ${e.message}`); process.exit(1); });
else {
  console.error('usage: node_h2.js server | client URL');
  process.exit(2);
}
