// Subscribes to a running dmgraph with the npm graphql-ws client, the way a
// front-end would, and checks that a message sent over HTTP arrives live.
// Usage: DMGRAPH_URL=http://127.0.0.1:8080 node subscribe.mjs
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const base = process.env.DMGRAPH_URL ?? 'http://127.0.0.1:8080';
const deadline = setTimeout(() => fail('timed out after 20s'), 20_000);

function fail(why) {
  console.error('graphql-ws check FAILED:', why);
  process.exit(1);
}

async function gql(query, variables, token) {
  const res = await fetch(`${base}/query`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.json();
  if (body.errors) fail(JSON.stringify(body.errors));
  return body.data;
}

async function register(name) {
  const username = `${name}${Date.now() % 1e9}`;
  const { register } = await gql(
    `mutation($u: String!) { register(input: {username: $u, password: "correct horse", displayName: $u, birthDate: "1990-01-01"}) { token user { id } } }`,
    { u: username });
  return { token: register.token, id: register.user.id };
}

const alice = await register('alice');
const bob = await register('bob');
for (const [a, b] of [[alice, bob], [bob, alice]]) {
  await gql(`mutation($id: ID!) { follow(userId: $id) { id } }`, { id: b.id }, a.token);
}

const client = createClient({
  url: base.replace(/^http/, 'ws') + '/query',
  webSocketImpl: WebSocket,
  connectionParams: { Authorization: `Bearer ${bob.token}` },
});

const received = new Promise((resolve, reject) => {
  client.subscribe(
    { query: 'subscription { messageAdded { id text sender { id } } }' },
    { next: (v) => resolve(v), error: (e) => reject(e), complete: () => reject(new Error('completed early')) },
  );
});
// The subscription is live once the server acknowledged the connection.
await new Promise((resolve) => client.on('connected', resolve));
await new Promise((resolve) => setTimeout(resolve, 300));

const { sendMessage } = await gql(
  `mutation($to: ID!) { sendMessage(input: {recipientId: $to, text: "hello from graphql-ws"}) { message { id } } }`,
  { to: bob.id }, alice.token);

const result = await received.catch((e) => fail(e?.message ?? JSON.stringify(e)));
const got = result.data?.messageAdded;
if (!got || got.id !== sendMessage.message.id || got.text !== 'hello from graphql-ws' || got.sender.id !== alice.id) {
  fail(`unexpected event ${JSON.stringify(result)}`);
}
console.log('graphql-ws check passed: received', got.id);
clearTimeout(deadline);
await client.dispose();
process.exit(0);
