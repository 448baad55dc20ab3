// Checks what the stock npm graphql-ws client does with each close code
// dmgraph sends (realtime/socket/sockets.go, TestCloseCodes): it reconnects
// by itself, or fails the subscription with the close event. A stand-in
// server closes the first socket with the code after a subscribe, and
// answers the subscribe on the next socket. Then, against a running
// dmgraph, a signed-out socket (4401) is not retried.
// Usage: DMGRAPH_URL=http://127.0.0.1:8080 node closecodes.mjs
import { createClient } from 'graphql-ws';
import WebSocket, { WebSocketServer } from 'ws';

// code → whether the stock client reconnects by itself.
const table = {
  1001: true, // server shutting down
  1013: true, // database unavailable
  4401: false, // signed out, token expired
  4403: true, // no valid token in connection_init (retryAttempts times)
  4408: true, // connection_init too late
  4409: false, // operation ID already running
  4800: true, // slow consumer
  4801: true, // events may have been lost
  4802: true, // internal error
  4803: true, // too many sockets for the user
};

const deadline = setTimeout(() => fail('timed out after 30s'), 30_000);

function fail(why) {
  console.error('close code check FAILED:', why);
  process.exit(1);
}

// standIn acks every socket; the first subscribe is answered with a close,
// every later one with a result.
async function standIn(code) {
  const wss = new WebSocketServer({ port: 0, handleProtocols: () => 'graphql-transport-ws' });
  await new Promise((resolve) => wss.on('listening', resolve));
  let sockets = 0;
  wss.on('connection', (ws) => {
    const n = ++sockets;
    ws.on('message', (data) => {
      const m = JSON.parse(data);
      if (m.type === 'connection_init') ws.send(JSON.stringify({ type: 'connection_ack' }));
      if (m.type !== 'subscribe') return;
      if (n === 1) return ws.close(code, 'closed by the stand-in');
      ws.send(JSON.stringify({ id: m.id, type: 'next', payload: { data: { ok: true } } }));
      ws.send(JSON.stringify({ id: m.id, type: 'complete' }));
    });
  });
  return { url: `ws://127.0.0.1:${wss.address().port}`, sockets: () => sockets, close: () => wss.close() };
}

// outcome subscribes once and says how it ended: 'retried' with a result,
// or the close code it failed with.
async function outcome(url) {
  const client = createClient({ url, webSocketImpl: WebSocket, retryWait: () => Promise.resolve() });
  try {
    return await new Promise((resolve) => {
      client.subscribe({ query: 'subscription { ok }' }, {
        next: () => resolve('retried'),
        error: (e) => resolve(e?.code ?? String(e)),
        complete: () => {},
      });
    });
  } finally {
    await client.dispose();
  }
}

for (const [code, retried] of Object.entries(table)) {
  const server = await standIn(Number(code));
  const got = await outcome(server.url);
  server.close();
  const want = retried ? 'retried' : Number(code);
  if (got !== want) fail(`close ${code}: the stock client ${got === 'retried' ? 'reconnected' : `failed with ${got}`}, want ${want === 'retried' ? 'a reconnect' : 'no reconnect'}`);
}
console.log('close codes: the stock client retries', Object.keys(table).filter((c) => table[c]).join(' '), 'and gives up on',
  Object.keys(table).filter((c) => !table[c]).join(' '));

// Against dmgraph: signOutEverywhere closes the socket with 4401, and the
// stock client fails the subscription instead of reconnecting.
const base = process.env.DMGRAPH_URL;
if (base) {
  const gql = async (query, variables, token) => {
    const res = await fetch(`${base}/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    const body = await res.json();
    if (body.errors) fail(JSON.stringify(body.errors));
    return body.data;
  };
  const username = `carol${Date.now() % 1e9}`;
  const { register } = await gql(
    `mutation($u: String!) { register(input: {username: $u, password: "correct horse", displayName: $u, birthDate: "1990-01-01"}) { token } }`,
    { u: username });
  let connecting = 0;
  const client = createClient({
    url: base.replace(/^http/, 'ws') + '/query',
    webSocketImpl: WebSocket,
    connectionParams: { Authorization: `Bearer ${register.token}` },
    retryWait: () => Promise.resolve(),
    on: { connecting: () => connecting++ },
  });
  const ended = new Promise((resolve) => {
    client.subscribe({ query: 'subscription { conversationUpdated { id } }' },
      { next: () => {}, error: (e) => resolve(e?.code), complete: () => resolve('complete') });
  });
  await new Promise((resolve) => client.on('connected', resolve));
  await gql('mutation { signOutEverywhere }', {}, register.token);
  const code = await ended;
  if (code !== 4401 || connecting !== 1) fail(`after signOutEverywhere: ended with ${code} after ${connecting} connections, want 4401 after 1`);
  console.log('close codes: signOutEverywhere ended the stock client with 4401, no reconnect');
  await client.dispose();
}
clearTimeout(deadline);
process.exit(0);
