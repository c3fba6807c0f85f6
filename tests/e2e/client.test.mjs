// End-to-end: the browser client (`clients/js/`, served by the deployments at
// `/client/index.js`) in headless Chromium, against node's oidc-provider, deployed both as the
// `local` runner and as the real Lambda binaries behind the API-Gateway-like front, on the
// DynamoDB store (moto).
//
// The page imports the module from the token handler's origin (the session cookie is
// SameSite=Lax and CORS admits only allowed_origins) and drives it: `login()` lands signed in,
// `session()` gives the profile and `null` once `logout()` ran; `getAccessToken()` is cached
// (no second POST /auth/refresh within the token's lifetime, a new one once it is about to
// expire) and shared (concurrent callers cause one POST); an API that refuses the token (a node
// http server on another loopback port, CORS-allowed for the page) costs one forced refresh and
// one retry with the new token, and a second 401 comes back as is; `{token: false}` calls the
// proxy with the cookie alone; refusals reject with `AuthError` and the contract's code. Every
// POST /auth/refresh is counted where Chromium sent it, every API call where the API received
// it, every grant where the provider received it.
//
// Run through tests/e2e/run (it builds the binaries and provides DYNAMODB_ENDPOINT).

import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';

import { STARTUP_TIMEOUT_MS, TEST_TIMEOUT_MS, launchChromium, newContext } from './chromium.mjs';

import { signInAtProvider, startOidcRig } from './oidc-rig.mjs';

/** The API the proxy test calls: the provider's userinfo, for sessions of the `basic` client. */
const PROXY_PROVIDER = 'basic';
/** Concurrent callers in the single-flight tests. */
const CALLERS = 6;
/** Held in front of the provider's token endpoint so that concurrent callers overlap. */
const LATENCY_MS = 300;

/**
 * A bearer-token API on a free loopback port (another origin than the page's), CORS-allowed
 * for any origin. Records every request but preflights; refuses with 401 the tokens in
 * `refused`, or every token while `refuseAll` is set.
 */
async function startTestApi() {
  const calls = [];
  const refused = new Set();
  let refuseAll = false;
  const server = http.createServer((req, res) => {
    const origin = req.headers.origin;
    if (origin) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Vary', 'Origin');
    }
    if (req.method === 'OPTIONS') {
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST');
      res.setHeader('Access-Control-Allow-Headers', 'authorization, content-type, x-requested-with');
      res.writeHead(204).end();
      return;
    }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const authorization = req.headers.authorization ?? '';
      const token = /^bearer /i.test(authorization) ? authorization.slice(7) : undefined;
      const refuse = !token || refuseAll || refused.has(token);
      calls.push({
        method: req.method,
        path: req.url,
        token,
        body: Buffer.concat(chunks).toString(),
        cookie: req.headers.cookie,
        x_requested_with: req.headers['x-requested-with'],
        status: refuse ? 401 : 200,
      });
      res.setHeader('Content-Type', 'application/json');
      if (refuse) {
        res.setHeader('WWW-Authenticate', 'Bearer error="invalid_token"');
        res.writeHead(401).end(JSON.stringify({ error: 'invalid_token', from: 'test-api' }));
      } else {
        res.writeHead(200).end(JSON.stringify({ ok: true, path: req.url }));
      }
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    calls,
    refuse(token) {
      refused.add(token);
    },
    setRefuseAll(value) {
      refuseAll = value;
    },
    close() {
      return new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}

// ---- functions run inside the page (serialized by playwright; no closures) ----

/** Imports the module from the token handler's origin and keeps one client on `window`. */
async function installClient() {
  const { createClient } = await import('/client/index.js');
  window.th = createClient();
}

/** Runs `client[method](...args)`; an error comes back as `{error: {name, status, code}}`. */
async function callClient([method, args]) {
  try {
    return { value: await window.th[method](...args) };
  } catch (e) {
    return { error: { name: e.name, status: e.status, code: e.code, message: e.message } };
  }
}

/** `n` concurrent `getAccessToken(options)` calls. */
function concurrentTokens([n, options]) {
  return Promise.all(Array.from({ length: n }, () => window.th.getAccessToken(options)));
}

/** `n` concurrent `client.fetch(url + '/' + i, init)`; `{status, body}` each. */
function concurrentFetches([n, url, init]) {
  return Promise.all(Array.from({ length: n }, (_, i) => window.th.fetch(`${url}/${i}`, init)
    .then(async (r) => ({ status: r.status, body: await r.json() }))));
}

describe('the browser client (clients/js) in Chromium', () => {
  let rig;
  let provider;
  let browser;
  let api;
  let userinfoPath;
  let deployments = {};
  let clients = {};

  before(async () => {
    rig = await startOidcRig((kind, { issuer }) => ({
      apis: { op: { provider: PROXY_PROVIDER, base_url: issuer } },
      name: `client-${kind}`,
    }));
    ({ provider, clients, deployments } = rig);
    const discovery = await (await fetch(`${provider.issuer}/.well-known/openid-configuration`)).json();
    userinfoPath = discovery.userinfo_endpoint.slice(provider.issuer.length);
    api = await startTestApi();
    browser = await launchChromium();
  }, { timeout: 2 * STARTUP_TIMEOUT_MS });

  after(async () => {
    provider?.setTokenDelay(0);
    await browser?.close();
    await api?.close();
    await rig?.stop('client-provider-requests.json');
  });

  /**
   * A fresh profile and page that records every POST /auth/refresh it sends (with its body)
   * and every console message.
   */
  async function openPage(deployment) {
    const context = await newContext(browser);
    const page = await context.newPage();
    page.refreshes = [];
    page.consoleText = [];
    page.on('request', (r) => {
      if (r.method() === 'POST' && r.url() === `${deployment.baseUrl}/auth/refresh`) {
        page.refreshes.push({ body: r.postData() ?? null, headers: r.headers() });
      }
    });
    page.on('console', (m) => page.consoleText.push(m.text()));
    return { context, page };
  }

  async function call(page, method, ...args) {
    return page.evaluate(callClient, [method, args]);
  }

  /**
   * Signs `subject` in with `client.login(providerName, returnTo)` from a page of the token
   * handler's origin, through the provider's login and consent pages; returns the code
   * exchange the provider answered. The landing URL proves return_to was encoded whole.
   */
  async function signIn(page, deployment, providerName, subject) {
    const returnTo = '/?via=client&n=1';
    const mark = provider.requests.length;
    await page.goto(`${deployment.baseUrl}/`);
    await page.waitForFunction(() => document.getElementById('status').textContent === 'Not signed in');
    await page.evaluate(installClient);
    const loginRequest = page.waitForRequest((r) => r.url().startsWith(`${deployment.baseUrl}/auth/${providerName}/login`));
    // login() navigates away: the evaluation may end with its page.
    await page.evaluate(([p, r]) => window.th.login(p, r), [providerName, returnTo])
      .catch((e) => assert.match(e.message, /context was destroyed|navigat/i));
    assert.equal(
      (await loginRequest).url(),
      `${deployment.baseUrl}/auth/${providerName}/login?return_to=${encodeURIComponent(returnTo)}`,
    );

    await signInAtProvider(page, provider.issuer, subject);

    await page.waitForURL(`${deployment.baseUrl}${returnTo}`);
    await page.waitForFunction(
      () => document.getElementById('status').textContent.startsWith('Signed in as'),
    );
    const grants = provider.since(mark, { endpoint: 'token' });
    assert.equal(grants.length, 1, 'one token request: the code exchange');
    assert.equal(grants[0].grant_type, 'authorization_code');
    assert.equal(grants[0].status, 200, JSON.stringify(grants[0].response));
    assert.ok(grants[0].response.access_token && grants[0].response.refresh_token);
    await page.evaluate(installClient);
    return grants[0];
  }

  /** No token the provider issued appears in the page's console. */
  function assertNoTokenLogged(page) {
    const text = page.consoleText.join('\n');
    for (const r of provider.requests) {
      for (const key of ['access_token', 'refresh_token', 'id_token']) {
        if (r.response?.[key]) assert.ok(!text.includes(r.response[key]), `a ${key} was logged`);
      }
    }
  }

  for (const kind of ['local', 'lambda']) {
    test(`${kind}: login(), session(), a cached getAccessToken(), logout() clears it`, { timeout: TEST_TIMEOUT_MS }, async () => {
      const deployment = deployments[kind];
      const subject = `fay-${kind}`;
      const { context, page } = await openPage(deployment);
      try {
        const code = await signIn(page, deployment, 'post', subject);

        const session = await call(page, 'session');
        assert.equal(session.value.provider, 'post');
        assert.equal(session.value.subject, subject);
        assert.deepEqual(session.value.profile, { name: `Test ${subject}`, email: `${subject}@example.test` });

        // The first call asks /auth/refresh (unforced: no body); the stored token, no grant.
        let mark = provider.requests.length;
        page.refreshes.length = 0;
        const first = await call(page, 'getToken');
        assert.equal(first.value.access_token, code.response.access_token, JSON.stringify(first.error));
        assert.equal(first.value.token_type, 'Bearer');
        assert.ok(first.value.expires_in > 3000 && first.value.expires_in <= 3600, `${first.value.expires_in}`);
        assert.equal(page.refreshes.length, 1);
        assert.equal(page.refreshes[0].body, null, 'an unforced refresh sends no body');
        assert.equal(page.refreshes[0].headers['x-requested-with'], 'fetch');
        assert.deepEqual(provider.since(mark, { endpoint: 'token' }), []);

        // Within its lifetime: from memory, no request at all.
        const again = await call(page, 'getAccessToken');
        assert.equal(again.value, code.response.access_token);
        assert.equal(page.refreshes.length, 1, 'no second POST /auth/refresh');

        // Until shortly (30 s) before it expires: moved 31 s short of that, still cached;
        // moved to 29 s before it, one more (unforced) POST.
        const lifetime = first.value.expires_in;
        const shifted = (seconds) => page.evaluate((s) => {
          window.realNow ??= Date.now;
          const real = window.realNow;
          Date.now = () => real() + s * 1000;
        }, seconds);
        try {
          await shifted(lifetime - 31);
          assert.equal((await call(page, 'getAccessToken')).value, code.response.access_token);
          assert.equal(page.refreshes.length, 1, 'still fresh 31 s before expiry');
          await shifted(lifetime - 29);
          assert.equal((await call(page, 'getAccessToken')).value, code.response.access_token);
          assert.equal(page.refreshes.length, 2, 'replaced 29 s before expiry');
          assert.equal(page.refreshes[1].body, null);
        } finally {
          await page.evaluate(() => {
            Date.now = window.realNow;
          });
        }
        const cachedAgain = await call(page, 'getAccessToken');
        assert.equal(cachedAgain.value, code.response.access_token);
        assert.equal(page.refreshes.length, 2, 'the re-fetched token is cached again');

        // getAccessToken({force: true}): one POST with {"force": true}, one refresh grant.
        mark = provider.requests.length;
        const forced = await call(page, 'getAccessToken', { force: true });
        const [grant, ...moreGrants] = provider.since(mark, { endpoint: 'token' });
        assert.equal(moreGrants.length, 0);
        assert.equal(grant.grant_type, 'refresh_token');
        assert.equal(forced.value, grant.response.access_token);
        assert.notEqual(forced.value, code.response.access_token);
        assert.equal(page.refreshes.length, 3);
        assert.deepEqual(JSON.parse(page.refreshes[2].body), { force: true });
        assert.equal((await call(page, 'getAccessToken')).value, forced.value, 'the forced token is cached');
        assert.equal(page.refreshes.length, 3);

        // logout(): the handler's JSON, no navigation; the provider got the revocation.
        mark = provider.requests.length;
        const url = page.url();
        const loggedOut = await call(page, 'logout');
        assert.equal(loggedOut.value.logged_out, true, JSON.stringify(loggedOut));
        assert.ok(loggedOut.value.end_session_url?.startsWith(`${provider.issuer}/session/end?`));
        assert.equal(provider.since(mark, { endpoint: 'revocation' }).length, 1);
        assert.equal(page.url(), url, 'logout() does not navigate');

        // Signed out: session() is null, and the cache is gone: the next getAccessToken()
        // asks the handler and rejects with its code.
        assert.deepEqual(await call(page, 'session'), { value: null });
        const refused = await call(page, 'getAccessToken');
        assert.equal(page.refreshes.length, 4, 'a POST, not the cached token');
        assert.deepEqual(
          { name: refused.error?.name, status: refused.error?.status, code: refused.error?.code },
          { name: 'AuthError', status: 401, code: 'unauthenticated' },
          JSON.stringify(refused),
        );
        assertNoTokenLogged(page);
      } finally {
        await context.close();
      }
    });

    test(`${kind}: concurrent callers share one POST /auth/refresh`, { timeout: TEST_TIMEOUT_MS }, async () => {
      const deployment = deployments[kind];
      const { context, page } = await openPage(deployment);
      try {
        const code = await signIn(page, deployment, 'basic', `gus-${kind}`);

        // Cold cache: CALLERS getAccessToken() and CALLERS fetch() at once, one POST.
        page.refreshes.length = 0;
        const coldBefore = api.calls.length;
        const [tokens, answers] = await page.evaluate(
          ([n, url]) => Promise.all([
            Promise.all(Array.from({ length: n }, () => window.th.getAccessToken())),
            Promise.all(Array.from({ length: n }, (_, i) => window.th.fetch(`${url}/cold/${i}`).then((r) => r.status))),
          ]),
          [CALLERS, api.url],
        );
        assert.deepEqual(tokens, Array(CALLERS).fill(code.response.access_token));
        assert.deepEqual(answers, Array(CALLERS).fill(200));
        assert.equal(page.refreshes.length, 1, `one POST /auth/refresh, got ${page.refreshes.length}`);
        const cold = api.calls.slice(coldBefore);
        assert.equal(cold.length, CALLERS);
        for (const c of cold) assert.equal(c.token, code.response.access_token);

        // Forced at once, with the provider slow enough that they overlap: one POST, one grant.
        let mark = provider.requests.length;
        provider.setTokenDelay(LATENCY_MS);
        let forced;
        try {
          forced = await page.evaluate(concurrentTokens, [CALLERS, { force: true }]);
        } finally {
          provider.setTokenDelay(0);
        }
        const grants = provider.since(mark, { endpoint: 'token' });
        assert.equal(grants.length, 1, 'one refresh grant');
        assert.deepEqual(forced, Array(CALLERS).fill(grants[0].response.access_token));
        assert.equal(page.refreshes.length, 2, `one more POST, got ${page.refreshes.length - 1}`);
        assert.deepEqual(JSON.parse(page.refreshes[1].body), { force: true });

        // An API refusing that token to every concurrent caller: one forced refresh, and
        // each caller retries once with the one new token.
        api.refuse(forced[0]);
        mark = provider.requests.length;
        const callsBefore = api.calls.length;
        provider.setTokenDelay(LATENCY_MS);
        let healed;
        try {
          healed = await page.evaluate(concurrentFetches, [CALLERS, `${api.url}/refused`, {}]);
        } finally {
          provider.setTokenDelay(0);
        }
        assert.deepEqual(healed.map((h) => h.status), Array(CALLERS).fill(200));
        const [renewal, ...moreRenewals] = provider.since(mark, { endpoint: 'token' });
        assert.equal(moreRenewals.length, 0, 'one refresh grant for all the refused callers');
        assert.equal(page.refreshes.length, 3, `one forced POST, got ${page.refreshes.length - 2}`);
        assert.deepEqual(JSON.parse(page.refreshes[2].body), { force: true });
        const calls = api.calls.slice(callsBefore);
        assert.equal(calls.length, 2 * CALLERS, 'each caller: one refused call, one retry');
        assert.deepEqual(
          calls.filter((c) => c.status === 401).map((c) => c.token),
          Array(CALLERS).fill(forced[0]),
        );
        assert.deepEqual(
          calls.filter((c) => c.status === 200).map((c) => c.token),
          Array(CALLERS).fill(renewal.response.access_token),
        );
        assertNoTokenLogged(page);
      } finally {
        await context.close();
      }
    });

    test(`${kind}: an API's 401 costs one forced refresh and one retry with the new token; a second 401 is returned`, { timeout: TEST_TIMEOUT_MS }, async () => {
      const deployment = deployments[kind];
      const { context, page } = await openPage(deployment);
      try {
        const code = await signIn(page, deployment, 'post', `hal-${kind}`);
        const first = await call(page, 'getAccessToken');
        assert.equal(first.value, code.response.access_token);
        api.refuse(first.value);

        // Refused once: one forced refresh, one retry with the new token, its answer.
        let mark = provider.requests.length;
        let callsBefore = api.calls.length;
        page.refreshes.length = 0;
        const healed = await page.evaluate(
          (url) => window.th.fetch(url, { method: 'POST', body: 'payload', headers: { 'Content-Type': 'text/plain' } })
            .then(async (r) => ({ status: r.status, body: await r.json() })),
          `${api.url}/once`,
        );
        assert.deepEqual(healed, { status: 200, body: { ok: true, path: '/once' } });
        let calls = api.calls.slice(callsBefore);
        assert.deepEqual(calls.map((c) => c.status), [401, 200]);
        assert.equal(calls[0].token, first.value);
        const [grant, ...moreGrants] = provider.since(mark, { endpoint: 'token' });
        assert.equal(moreGrants.length, 0);
        assert.equal(grant.grant_type, 'refresh_token');
        assert.equal(calls[1].token, grant.response.access_token, 'the retry carries the new token');
        assert.notEqual(calls[1].token, calls[0].token);
        assert.equal(calls[1].body, 'payload', 'the retry sends the body again');
        assert.equal(page.refreshes.length, 1);
        assert.deepEqual(JSON.parse(page.refreshes[0].body), { force: true });
        // Another origin: the bearer header only, never the session cookie or X-Requested-With.
        for (const c of calls) {
          assert.equal(c.cookie, undefined, 'the session cookie went to another origin');
          assert.equal(c.x_requested_with, undefined);
        }

        // The new token is cached: the next call uses it without a refresh.
        callsBefore = api.calls.length;
        const next = await page.evaluate((url) => window.th.fetch(url).then((r) => r.status), `${api.url}/next`);
        assert.equal(next, 200);
        assert.equal(page.refreshes.length, 1);
        assert.equal(api.calls.at(-1).token, grant.response.access_token);

        // An API that refuses the fresh token too: one refresh, one retry, then its 401 as is.
        mark = provider.requests.length;
        callsBefore = api.calls.length;
        api.setRefuseAll(true);
        let refusedTwice;
        try {
          refusedTwice = await page.evaluate(
            (url) => window.th.fetch(url).then(async (r) => ({
              status: r.status,
              body: await r.json(),
              contentType: r.headers.get('content-type'),
            })),
            `${api.url}/twice`,
          );
        } finally {
          api.setRefuseAll(false);
        }
        assert.deepEqual(refusedTwice, {
          status: 401,
          body: { error: 'invalid_token', from: 'test-api' },
          contentType: 'application/json',
        });
        calls = api.calls.slice(callsBefore);
        assert.deepEqual(calls.map((c) => c.status), [401, 401], 'one retry, no more');
        const [grant2, ...more2] = provider.since(mark, { endpoint: 'token' });
        assert.equal(more2.length, 0, 'one refresh grant');
        assert.equal(calls[0].token, grant.response.access_token);
        assert.equal(calls[1].token, grant2.response.access_token);
        assert.equal(page.refreshes.length, 2);
        assert.deepEqual(JSON.parse(page.refreshes[1].body), { force: true });

        // {token: false}: no bearer, no refresh, no retry.
        callsBefore = api.calls.length;
        const bare = await page.evaluate(
          (url) => window.th.fetch(url, { token: false }).then((r) => r.status),
          `${api.url}/bare`,
        );
        assert.equal(bare, 401);
        assert.deepEqual(api.calls.slice(callsBefore).map((c) => [c.token, c.status]), [[undefined, 401]]);
        assert.equal(page.refreshes.length, 2);
        assertNoTokenLogged(page);
      } finally {
        await context.close();
      }
    });

    test(`${kind}: {token: false} calls the proxy with the cookie alone; refusals reject with the contract's code`, { timeout: TEST_TIMEOUT_MS }, async () => {
      const deployment = deployments[kind];
      const client = clients[PROXY_PROVIDER];
      const subject = `ida-${kind}`;
      const { context, page } = await openPage(deployment);
      try {
        const code = await signIn(page, deployment, PROXY_PROVIDER, subject);
        const sent = [];
        page.on('request', (r) => {
          if (r.url().startsWith(`${deployment.baseUrl}/api/`)) sent.push(r.headers());
        });
        page.refreshes.length = 0;
        const mark = provider.requests.length;
        const viaProxy = await page.evaluate(
          (p) => window.th.fetch(p, { token: false }).then(async (r) => ({ status: r.status, body: await r.json() })),
          `/api/op${userinfoPath}`,
        );
        assert.equal(viaProxy.status, 200, JSON.stringify(viaProxy));
        assert.equal(viaProxy.body.sub, subject);
        assert.equal(page.refreshes.length, 0, 'no POST /auth/refresh');
        assert.equal(sent.length, 1);
        assert.equal(sent[0]['x-requested-with'], 'fetch', 'the proxy needs X-Requested-With');
        assert.equal(sent[0].authorization, undefined, 'no bearer on a proxy call');
        const [userinfo] = provider.since(mark, { endpoint: 'userinfo' });
        assert.equal(userinfo.presented_access_token, code.response.access_token, 'the proxy attached the token');

        // The provider no longer honours the refresh token: a forced refresh rejects with
        // reauth_required, the session is gone.
        const body = new URLSearchParams({
          token: code.response.refresh_token,
          token_type_hint: 'refresh_token',
          client_id: client.client_id,
          client_secret: client.client_secret,
        });
        const headers = { 'content-type': 'application/x-www-form-urlencoded' };
        if (client.token_endpoint_auth_method === 'client_secret_basic') {
          body.delete('client_id');
          body.delete('client_secret');
          const id = encodeURIComponent(client.client_id);
          const secret = encodeURIComponent(client.client_secret);
          headers.authorization = `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
        }
        const revoked = await fetch(`${provider.issuer}/token/revocation`, { method: 'POST', headers, body });
        assert.equal(revoked.status, 200);
        const cached = await call(page, 'getAccessToken');
        assert.equal(cached.value, code.response.access_token, 'the stored access token is still served');
        const reauth = await call(page, 'getAccessToken', { force: true });
        assert.deepEqual(
          { name: reauth.error?.name, status: reauth.error?.status, code: reauth.error?.code },
          { name: 'AuthError', status: 401, code: 'reauth_required' },
          JSON.stringify(reauth),
        );
        assert.deepEqual(await call(page, 'session'), { value: null });
        const signedOut = await call(page, 'getAccessToken');
        assert.equal(signedOut.error?.code, 'unauthenticated', 'the cache was cleared');
        assert.equal(page.refreshes.length, 3);

        // The proxy's own 401 is returned as is, without a refresh.
        const proxied = await page.evaluate(
          (p) => window.th.fetch(p, { token: false }).then(async (r) => ({ status: r.status, body: await r.json() })),
          `/api/op${userinfoPath}`,
        );
        assert.equal(proxied.status, 401);
        assert.equal(proxied.body.error, 'unauthenticated');
        assert.equal(page.refreshes.length, 3);

        // 503 provider_unavailable, as a refresh answers when the provider is down (served
        // here by the browser: the handler only answers it after its own timeouts).
        await page.route(`${deployment.baseUrl}/auth/refresh`, (route) => route.fulfill({
          status: 503,
          contentType: 'application/json',
          body: JSON.stringify({ error: 'provider_unavailable', error_description: 'the provider did not answer' }),
        }));
        const down = await call(page, 'getAccessToken');
        assert.deepEqual(
          { name: down.error?.name, status: down.error?.status, code: down.error?.code },
          { name: 'AuthError', status: 503, code: 'provider_unavailable' },
        );
        const fetchDown = await page.evaluate(
          (url) => window.th.fetch(url).then(() => 'resolved', (e) => `${e.name} ${e.status} ${e.code}`),
          `${api.url}/down`,
        );
        assert.equal(fetchDown, 'AuthError 503 provider_unavailable');
        assertNoTokenLogged(page);
      } finally {
        await context.close();
      }
    });
  }

  test('the provider reported no server error', () => {
    assert.deepEqual(provider.errors.filter((e) => e.event === 'server_error'), []);
  });
});
