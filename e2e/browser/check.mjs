// Drives dmgraph's offline GraphiQL page in headless Chromium, as a newcomer
// would: pastes a bearer token into the headers editor, runs a query and a
// subscription through the UI, and checks that no request left 127.0.0.1.
// Usage: DMGRAPH_URL=http://127.0.0.1:18932 node check.mjs
// Needs /usr/bin/chromium (Debian's chromium package); see run.sh.
import { chromium } from 'playwright-core';
import { fileURLToPath } from 'node:url';

const base = (process.env.DMGRAPH_URL ?? 'http://127.0.0.1:18932').replace(/\/$/, '');
const screenshotPath = fileURLToPath(new URL('./screenshot.png', import.meta.url));
const started = Date.now();
const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);
const MESSAGE = 'hello from the browser test';

let browser;
let page;

async function fail(why) {
  console.error(`browser check FAILED after ${((Date.now() - started) / 1000).toFixed(1)}s: ${why}`);
  if (page) await page.screenshot({ path: screenshotPath }).then(
    () => console.error(`screenshot of the failure: ${screenshotPath}`), () => {});
  if (browser) await browser.close().catch(() => {});
  process.exit(1);
}

// The whole run is bounded.
setTimeout(() => fail('timed out after 60s'), 60_000).unref();
process.on('unhandledRejection', (e) => fail(e?.stack ?? String(e)));
process.on('uncaughtException', (e) => fail(e?.stack ?? String(e)));

function step(what) {
  console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${what}`);
}

async function gql(query, variables, token) {
  const res = await fetch(`${base}/query`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = await res.json();
  if (body.errors) await fail(`${query.split('(')[0]}: ${JSON.stringify(body.errors)}`);
  return body.data;
}

async function register(name) {
  const username = `${name}${Date.now() % 1e9}`;
  const { register } = await gql(
    `mutation($u: String!) { register(input: {username: $u, password: "correct horse", displayName: $u, birthDate: "1990-01-01"}) { token user { id } } }`,
    { u: username });
  return { username, token: register.token, id: register.user.id };
}

// --- Two friends, over HTTP. ---
step(`registering two users at ${base}`);
const viewer = await register('browser');
const friend = await register('friend');
for (const [a, b] of [[viewer, friend], [friend, viewer]]) {
  await gql(`mutation($id: ID!) { follow(userId: $id) { id } }`, { id: b.id }, a.token);
}

// --- Chromium, with every request recorded. ---
step('launching /usr/bin/chromium');
browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  timeout: 20_000,
  // Playwright gives each launch a fresh --user-data-dir of its own.
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
context.setDefaultTimeout(15_000);
const requests = [];
context.on('request', (r) => requests.push(r.url()));
page = await context.newPage();
page.on('websocket', (ws) => requests.push(ws.url()));
const problems = [];
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
page.on('console', (m) => {
  if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
});
// CSP violations are reported to the page as events; collect them.
await page.addInitScript(() => {
  window.__cspViolations = [];
  document.addEventListener('securitypolicyviolation', (e) =>
    window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`));
});

let subscribeSent = false;
let initPayload;
page.on('websocket', (ws) => ws.on('framesent', (f) => {
  let msg;
  try { msg = JSON.parse(String(f.payload)); } catch { return; }
  if (msg.type === 'connection_init') initPayload = msg.payload;
  if (msg.type === 'subscribe' || msg.type === 'start') subscribeSent = true;
}));

step(`loading ${base}/`);
// GraphiQL introspects the schema on load; without it there are no docs,
// no completion and no validation.
const introspection = page.waitForResponse((r) =>
  r.url().endsWith('/query') && (r.request().postData() ?? '').includes('IntrospectionQuery'));
const res = await page.goto(`${base}/`, { waitUntil: 'load' });
if (res.status() !== 200) await fail(`GET / answered ${res.status()}`);
await page.locator('.graphiql-container').waitFor();
const schema = await (await introspection).json();
if (!schema.data?.__schema) await fail(`GraphiQL's introspection query failed: ${JSON.stringify(schema.errors ?? schema)}`);
await page.waitForFunction(() => document.querySelector('.graphiql-query-editor .CodeMirror'));

// setEditor replaces the text of the CodeMirror 5 editor under selector.
async function setEditor(selector, text) {
  const cm = page.locator(`${selector} .CodeMirror`).first();
  await cm.waitFor({ state: 'visible' });
  await cm.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  // insertText is what a paste does: no auto-closed brackets or quotes.
  await page.keyboard.insertText(text);
  const got = await cm.evaluate((el) => el.CodeMirror.getValue());
  if (got !== text) await fail(`${selector} holds ${JSON.stringify(got)}, want ${JSON.stringify(text)}`);
  // GraphiQL takes up an edit after a short debounce; run too soon and it
  // runs the previous text.
  await page.waitForTimeout(400);
}

async function waitForResult(needle, timeout) {
  await page.waitForFunction((n) => {
    const el = document.querySelector('.graphiql-response .CodeMirror');
    return el && el.CodeMirror.getValue().includes(n);
  }, needle, { timeout });
}

async function resultText() {
  return page.locator('.graphiql-response .CodeMirror').first()
    .evaluate((el) => el.CodeMirror.getValue()).catch(() => '(no result pane)');
}

// --- The headers editor, open by default, takes the token. ---
step('typing the Authorization header into the headers editor');
const headersButton = page.locator('.graphiql-editor-tools button[data-name="headers"]');
if (!(await headersButton.getAttribute('class')).split(' ').includes('active')) {
  await fail('the headers editor is not open on load');
}
await setEditor('.graphiql-editor-tool > .graphiql-editor:not(.hidden)',
  JSON.stringify({ Authorization: `Bearer ${viewer.token}` }));

// --- A query through the UI. ---
step('running { me { username } }');
await setEditor('.graphiql-query-editor', '{ me { username } }');
await page.locator('.graphiql-execute-button').click();
await waitForResult(`"username": "${viewer.username}"`, 10_000)
  .catch(async () => fail(`query result does not show ${viewer.username}: ${await resultText()}`));

// --- A subscription through the UI; the headers go to connection_init. ---
step('running subscription { messageAdded { text } }');
await setEditor('.graphiql-query-editor', 'subscription { messageAdded { text } }');
await page.locator('.graphiql-execute-button').click();
for (let i = 0; i < 50 && !subscribeSent; i++) await page.waitForTimeout(100);
if (!subscribeSent) await fail(`no subscribe frame went over a websocket; result: ${await resultText()}`);
if (initPayload?.Authorization !== `Bearer ${viewer.token}`) {
  await fail(`connection_init did not carry the headers editor's Authorization: ${JSON.stringify(initPayload)}`);
}
// The server starts the stream once it has handled the subscribe frame; a
// message sent before that would be history, not an event. Send until one
// arrives (each send is a new message, so this cannot pass by accident).
let seen = false;
for (let attempt = 1; attempt <= 5 && !seen; attempt++) {
  await page.waitForTimeout(attempt === 1 ? 300 : 0);
  step(`sending "${MESSAGE}" over HTTP from the friend (attempt ${attempt})`);
  await gql(`mutation($to: ID!) { sendMessage(input: {recipientId: $to, text: "${MESSAGE}"}) { message { id } } }`,
    { to: viewer.id }, friend.token);
  seen = await waitForResult(MESSAGE, 3_000).then(() => true, () => false);
}
if (!seen) await fail(`the subscription did not show the message; result: ${await resultText()}`);
step('the message arrived in the result pane');

await page.screenshot({ path: screenshotPath });
step(`screenshot saved to ${screenshotPath}`);

// Stop the subscription before counting requests and closing.
await page.locator('.graphiql-execute-button').click().catch(() => {});

const violations = await page.evaluate(() => window.__cspViolations);
for (const v of violations) problems.push(`CSP violation: ${v}`);

const foreign = requests.filter((u) => {
  const { protocol, host, hostname } = new URL(u);
  if (protocol === 'data:' || protocol === 'blob:' || protocol === 'about:') return false;
  return !LOCAL_HOSTS.has(hostname) && !LOCAL_HOSTS.has(host);
});
await browser.close();
browser = undefined;
page = undefined;

if (foreign.length) await fail(`requests left 127.0.0.1:\n  ${foreign.join('\n  ')}`);
if (problems.length) await fail(`the page reported problems:\n  ${problems.join('\n  ')}`);
const local = new Set(requests.map((u) => new URL(u).pathname));
console.log(`browser check passed in ${((Date.now() - started) / 1000).toFixed(1)}s: ` +
  `${requests.length} requests, all to ${new URL(base).host} (${[...local].sort().join(', ')})`);
process.exit(0);
