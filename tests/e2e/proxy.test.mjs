// End-to-end: the proxy (`/api/{api}/{path}`) and the example route behind the authorizer
// (`/me/hello`), through the demo page in headless Chromium, against node's oidc-provider,
// deployed both as the `local` runner and as the real Lambda binaries behind the
// API-Gateway-like front, on the DynamoDB store (moto).
//
// Each deployment has `[apis.op]`: the provider's own userinfo endpoint (discovery's
// `userinfo_endpoint`, under the issuer) for sessions of one of the test clients, and
// `[apis.other]`, the same upstream for the other client's sessions. A signed-in page calls
// userinfo through the proxy and never holds a token; the provider revoking the session's
// access token costs exactly one refresh grant and one retry (also when two tabs hit the
// revoked token at once); a second 401 is passed on; `/me/hello` admits the live session and
// refuses it once it has ended. Every assertion about the provider is on what it received
// (tests/e2e/provider.mjs records the token, revocation and userinfo endpoints).
//
// Run through tests/e2e/run (it builds the binaries and provides DYNAMODB_ENDPOINT).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { STARTUP_TIMEOUT_MS, TEST_TIMEOUT_MS, launchChromium, newContext } from './chromium.mjs';

import { ARTIFACTS } from './deployments.mjs';
import { signInAtProvider, startOidcRig } from './oidc-rig.mjs';

/** Held in front of the provider's token endpoint while two tabs hit a revoked token. */
const LATENCY_MS = 300;

/** Which test client's sessions may call `[apis.op]` in each deployment (the other: `other`). */
const API_PROVIDER = { local: 'basic', lambda: 'post' };
const OTHER = { basic: 'post', post: 'basic' };

/** What the demo page's "Call the provider API" button sends, from inside the page. */
function proxyGetInPage(apiPath) {
  return fetch(apiPath, { credentials: 'include', headers: { 'X-Requested-With': 'fetch' } })
    .then(async (r) => {
      const text = await r.text();
      let body;
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
      return { status: r.status, body };
    });
}

/**
 * Everything a script in the page can read: the DOM (with the inputs' current values), the
 * cookies it can see, web storage, its URL and history state, the URLs it loaded, and the
 * string values on `window`.
 */
function pageVisibleState() {
  const storage = (s) => Object.fromEntries(
    Array.from({ length: s.length }, (_, i) => [s.key(i), s.getItem(s.key(i))]),
  );
  const globals = {};
  for (const key of Object.keys(window)) {
    try {
      const value = window[key];
      if (typeof value === 'string') globals[key] = value;
      else if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
        globals[key] = JSON.stringify(value);
      }
    } catch {
      // a cross-origin or throwing getter: nothing the page can read either
    }
  }
  // As text, not JSON: a value is found as the page holds it, quotes included.
  return [
    document.documentElement.outerHTML,
    ...[...document.querySelectorAll('input, textarea')].map((e) => e.value),
    document.cookie,
    JSON.stringify(storage(localStorage)),
    JSON.stringify(storage(sessionStorage)),
    location.href,
    JSON.stringify(history.state),
    ...performance.getEntries().map((e) => e.name),
    JSON.stringify(globals),
  ].join('\n');
}

describe('proxy and authorizer through the demo page in Chromium', () => {
  let rig;
  let provider;
  let browser;
  let discovery;
  /** Discovery's `userinfo_endpoint`, relative to the issuer (the APIs' base_url). */
  let userinfoPath;
  let deployments = {};
  let clients = {};
  /** Values that must never appear in a deployment's logs: codes, states, cookies, secrets. */
  const secrets = new Set();

  before(async () => {
    rig = await startOidcRig((kind, { issuer }) => ({
      apis: {
        op: { provider: API_PROVIDER[kind], base_url: issuer },
        other: { provider: OTHER[API_PROVIDER[kind]], base_url: issuer },
      },
      name: `proxy-${kind}`,
    }));
    ({ provider, clients, deployments } = rig);
    for (const c of Object.values(clients)) secrets.add(c.client_secret);
    discovery = await (await fetch(`${provider.issuer}/.well-known/openid-configuration`)).json();
    assert.ok(discovery.userinfo_endpoint?.startsWith(`${provider.issuer}/`), discovery.userinfo_endpoint);
    assert.ok(discovery.revocation_endpoint, 'revocation is enabled');
    userinfoPath = discovery.userinfo_endpoint.slice(provider.issuer.length);

    browser = await launchChromium();
  }, { timeout: 2 * STARTUP_TIMEOUT_MS });

  after(async () => {
    provider?.refuseUserinfo(false);
    await browser?.close();
    await rig?.stop('proxy-provider-requests.json');
  });

  /**
   * A fresh browser profile (cookies, storage) with the suite's step timeout, recording every
   * response the token handler's origin gave it (status, headers, body).
   */
  async function recordingContext(deployment) {
    const context = await newContext(browser);
    const pending = [];
    context.on('response', (r) => {
      if (!r.url().startsWith(`${deployment.baseUrl}/`)) return;
      pending.push((async () => ({
        url: r.url(),
        status: r.status(),
        headers: await r.allHeaders(),
        body: await r.text().catch(() => ''),
      }))());
    });
    context.responses = async () => (await Promise.allSettled(pending))
      .filter((s) => s.status === 'fulfilled')
      .map((s) => s.value);
    return context;
  }

  /**
   * Signs `subject` in on the demo page of `deployment` with `providerName`, through the
   * provider's login and consent pages. Returns the code exchange the provider answered.
   */
  async function signIn(page, deployment, providerName, subject) {
    const mark = provider.requests.length;
    await page.goto(`${deployment.baseUrl}/`);
    await page.waitForFunction(() => document.getElementById('status').textContent === 'Not signed in');
    const callback = page.waitForRequest((r) => r.url().startsWith(`${deployment.baseUrl}/auth/${providerName}/callback?`));
    await page.click(`#login-${providerName}`);

    await signInAtProvider(page, provider.issuer, subject);

    const response = new URL((await callback).url()).searchParams;
    secrets.add(response.get('code'));
    secrets.add(response.get('state'));

    await page.waitForURL(`${deployment.baseUrl}/`);
    await page.waitForFunction(
      () => document.getElementById('status').textContent.startsWith('Signed in as'),
    );
    assert.equal(
      (await page.locator('#status').textContent()).trim(),
      `Signed in as ${subject} (${providerName})`,
    );
    const grants = provider.since(mark, { endpoint: 'token' });
    assert.equal(grants.length, 1, 'one token request: the code exchange');
    assert.equal(grants[0].grant_type, 'authorization_code');
    assert.equal(grants[0].status, 200, JSON.stringify(grants[0].response));
    assert.equal(grants[0].client_id, clients[providerName].client_id);
    assert.ok(grants[0].response.access_token && grants[0].response.refresh_token);
    assert.deepEqual(provider.since(mark, { endpoint: 'userinfo' }), [], 'no userinfo call at login');
    return grants[0];
  }

  /** Fills `#api-path`, clicks "Call the provider API" and returns what `#api` shows. */
  async function callApi(page, apiPath) {
    await page.fill('#api-path', apiPath);
    return clickAndReadApi(page, '#call-api');
  }

  /** Clicks a demo button and returns the `{status, body}` it shows in <pre id="api">. */
  async function clickAndReadApi(page, button) {
    await page.evaluate(() => {
      document.getElementById('api').textContent = '';
    });
    await page.click(button);
    await page.waitForFunction(() => document.getElementById('api').textContent !== '');
    return JSON.parse(await page.locator('#api').textContent());
  }

  /** Every token the provider has issued or been presented so far. */
  function providerTokens() {
    const tokens = new Set();
    for (const r of provider.requests) {
      for (const key of ['access_token', 'refresh_token', 'id_token']) {
        if (r.response?.[key]) tokens.add(r.response[key]);
      }
      if (r.presented_access_token) tokens.add(r.presented_access_token);
      if (r.presented_refresh_token) tokens.add(r.presented_refresh_token);
      if (r.revoked_token) tokens.add(r.revoked_token);
    }
    return tokens;
  }

  /**
   * No token the provider issued is anywhere the page's scripts can read, nor in any response
   * the token handler's origin sent the browser. The proxied userinfo answer for `subject`
   * must be found in both, so the search is known to cover the call.
   */
  async function assertNoTokenInPage(page, context, subject) {
    const state = await page.evaluate(pageVisibleState);
    const network = (await context.responses())
      .map((r) => [r.url, r.status, JSON.stringify(r.headers), r.body].join('\n'))
      .join('\n');
    assert.ok(state.includes(`"sub": "${subject}"`), 'the page shows the proxied answer');
    assert.ok(network.includes(`"sub":"${subject}"`), 'the recorded responses hold the proxied answer');
    const tokens = providerTokens();
    assert.ok(tokens.size >= 3, `checked ${tokens.size} tokens`);
    for (const token of tokens) {
      assert.ok(!state.includes(token), `a provider token (${token.slice(0, 6)}…) is visible to the page`);
      assert.ok(!network.includes(token), `a provider token (${token.slice(0, 6)}…) reached the browser`);
    }
  }

  /** Revokes `token` at the provider as `client` (RFC 7009), from outside the token handler. */
  async function revokeAtProvider(client, token) {
    const body = new URLSearchParams({ token, token_type_hint: 'access_token' });
    const headers = { 'content-type': 'application/x-www-form-urlencoded' };
    if (client.token_endpoint_auth_method === 'client_secret_basic') {
      const id = encodeURIComponent(client.client_id);
      const secret = encodeURIComponent(client.client_secret);
      headers.authorization = `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
    } else {
      body.set('client_id', client.client_id);
      body.set('client_secret', client.client_secret);
    }
    const mark = provider.requests.length;
    const r = await fetch(discovery.revocation_endpoint, { method: 'POST', headers, body });
    assert.equal(r.status, 200, await r.text());
    const [revocation] = provider.since(mark, { endpoint: 'revocation' });
    assert.equal(revocation.status, 200);
    assert.equal(revocation.revoked_token, token);
    // The provider now refuses it, as the proxy will find.
    const check = await fetch(discovery.userinfo_endpoint, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(check.status, 401, 'the provider refuses the revoked token');
  }

  /** The userinfo and token requests the provider received since `mark`, in order. */
  function apiTraffic(mark) {
    return provider.requests.slice(mark).filter((r) => r.endpoint === 'userinfo' || r.endpoint === 'token');
  }

  async function sessionCookie(context, deployment) {
    const cookies = await context.cookies(deployment.baseUrl);
    for (const c of cookies) secrets.add(c.value);
    return cookies.find((c) => c.name === 'session');
  }

  async function helloWithCookie(deployment, cookie) {
    const r = await fetch(`${deployment.baseUrl}/me/hello`, {
      headers: cookie === undefined ? {} : { cookie: `session=${cookie}` },
    });
    return { status: r.status, body: await r.json() };
  }

  for (const kind of ['local', 'lambda']) {
    const providerName = API_PROVIDER[kind];

    test(`${kind}: the page calls the provider's userinfo through the proxy and never holds a token`, { timeout: TEST_TIMEOUT_MS }, async () => {
      const deployment = deployments[kind];
      const subject = `carol-${kind}`;
      const context = await recordingContext(deployment);
      try {
        const page = await context.newPage();
        const code = await signIn(page, deployment, providerName, subject);
        // The page's field starts at the first API's root (it is not called `dev`).
        assert.equal(await page.inputValue('#api-path'), '/api/op/');

        let mark = provider.requests.length;
        const answer = await callApi(page, `/api/op${userinfoPath}`);
        assert.equal(answer.status, 200, JSON.stringify(answer));
        assert.equal(answer.body.sub, subject);
        assert.equal(answer.body.email, `${subject}@example.test`);
        assert.equal(answer.body.name, `Test ${subject}`);
        const traffic = apiTraffic(mark);
        assert.equal(traffic.length, 1, `one userinfo call and no grant: ${JSON.stringify(traffic)}`);
        const [call] = traffic;
        assert.equal(call.endpoint, 'userinfo');
        assert.equal(call.method, 'GET');
        assert.equal(call.status, 200);
        assert.equal(call.sub, subject);
        assert.equal(call.presented_access_token, code.response.access_token, "the session's access token, as a bearer header");
        assert.deepEqual(call.query, {}, 'no token in the query');
        for (const name of ['cookie', 'x-requested-with', 'origin', 'referer']) {
          assert.ok(!call.header_names.includes(name), `the caller's ${name} header reached the API: ${call.header_names}`);
        }

        // The query string reaches the API as it was.
        mark = provider.requests.length;
        const withQuery = await callApi(page, `/api/op${userinfoPath}?x=1&y=two`);
        assert.equal(withQuery.status, 200, JSON.stringify(withQuery));
        const [queried, ...moreQueried] = apiTraffic(mark);
        assert.equal(moreQueried.length, 0);
        assert.deepEqual(queried.query, { x: '1', y: 'two' });

        await assertNoTokenInPage(page, context, subject);
        await page.screenshot({ path: path.join(ARTIFACTS, `proxy-${kind}-userinfo.png`), fullPage: true });

        // What the proxy refuses never reaches the provider.
        mark = provider.requests.length;
        const noHeader = await page.evaluate(
          (p) => fetch(p, { credentials: 'include' }).then(async (r) => ({ status: r.status, body: await r.json() })),
          `/api/op${userinfoPath}`,
        );
        assert.equal(noHeader.status, 403, JSON.stringify(noHeader));
        assert.equal(noHeader.body.error, 'csrf_rejected');
        const wrong = await callApi(page, `/api/other${userinfoPath}`);
        assert.equal(wrong.status, 403, JSON.stringify(wrong));
        assert.equal(wrong.body.error, 'wrong_provider');
        const unknown = await callApi(page, `/api/nope${userinfoPath}`);
        assert.equal(unknown.status, 404, JSON.stringify(unknown));
        assert.equal(unknown.body.error, 'unknown_api');
        const anonymous = await fetch(`${deployment.baseUrl}/api/op${userinfoPath}`, {
          headers: { 'x-requested-with': 'fetch' },
        });
        assert.equal(anonymous.status, 401);
        assert.equal((await anonymous.json()).error, 'unauthenticated');
        assert.deepEqual(provider.since(mark), [], 'the provider heard of none of them');
        await sessionCookie(context, deployment);
      } finally {
        await context.close();
      }
    });

    test(`${kind}: the provider refusing the access token costs one refresh and one retry; a second 401 is passed on`, { timeout: TEST_TIMEOUT_MS }, async () => {
      const deployment = deployments[kind];
      const client = clients[providerName];
      const subject = `dave-${kind}`;
      const apiPath = `/api/op${userinfoPath}`;
      const context = await recordingContext(deployment);
      try {
        const page = await context.newPage();
        const code = await signIn(page, deployment, providerName, subject);
        const first = await callApi(page, apiPath);
        assert.equal(first.status, 200, JSON.stringify(first));

        // The provider stops accepting the session's access token (it is still unexpired).
        await revokeAtProvider(client, code.response.access_token);

        let mark = provider.requests.length;
        const healed = await callApi(page, apiPath);
        assert.equal(healed.status, 200, JSON.stringify(healed));
        assert.equal(healed.body.sub, subject);
        const traffic = apiTraffic(mark);
        assert.deepEqual(
          traffic.map((r) => `${r.endpoint} ${r.status}`),
          ['userinfo 401', 'token 200', 'userinfo 200'],
          'a refused call, one refresh grant, one retry',
        );
        const [refused, refresh, retry] = traffic;
        assert.equal(refused.presented_access_token, code.response.access_token);
        assert.equal(refused.error, 'invalid_token');
        assert.equal(refresh.grant_type, 'refresh_token');
        assert.equal(refresh.client_id, client.client_id);
        assert.equal(refresh.client_auth, client.token_endpoint_auth_method);
        assert.equal(refresh.presented_refresh_token, code.response.refresh_token);
        assert.notEqual(refresh.response.access_token, code.response.access_token);
        assert.equal(retry.presented_access_token, refresh.response.access_token, 'the retry carries the new token');
        assert.equal(retry.sub, subject);

        // The new token (and the rotated refresh token) were stored: the next call uses it as is.
        mark = provider.requests.length;
        const again = await callApi(page, apiPath);
        assert.equal(again.status, 200, JSON.stringify(again));
        const next = apiTraffic(mark);
        assert.deepEqual(next.map((r) => `${r.endpoint} ${r.status}`), ['userinfo 200']);
        assert.equal(next[0].presented_access_token, refresh.response.access_token);

        // An API that refuses the fresh token too: one refresh, one retry, then its 401 as is.
        mark = provider.requests.length;
        provider.refuseUserinfo(true);
        let refusedTwice;
        try {
          refusedTwice = await callApi(page, apiPath);
        } finally {
          provider.refuseUserinfo(false);
        }
        assert.equal(refusedTwice.status, 401, JSON.stringify(refusedTwice));
        assert.equal(refusedTwice.body.error, 'invalid_token', "the API's own answer");
        assert.equal(refusedTwice.body.error_description, 'refused by the test');
        const twice = apiTraffic(mark);
        assert.deepEqual(
          twice.map((r) => `${r.endpoint} ${r.status}`),
          ['userinfo 401', 'token 200', 'userinfo 401'],
          'one refresh and one retry, no more',
        );
        assert.equal(twice[0].presented_access_token, refresh.response.access_token);
        assert.equal(twice[1].presented_refresh_token, refresh.response.refresh_token, 'the rotated refresh token');
        assert.equal(twice[2].presented_access_token, twice[1].response.access_token);

        // The session goes on with the token that refresh got.
        mark = provider.requests.length;
        const after401 = await callApi(page, apiPath);
        assert.equal(after401.status, 200, JSON.stringify(after401));
        const last = apiTraffic(mark);
        assert.deepEqual(last.map((r) => `${r.endpoint} ${r.status}`), ['userinfo 200']);
        assert.equal(last[0].presented_access_token, twice[1].response.access_token);

        await assertNoTokenInPage(page, context, subject);
        await sessionCookie(context, deployment);
      } finally {
        await context.close();
      }
    });

    test(`${kind}: two tabs hitting a revoked token at once share one refresh grant`, { timeout: TEST_TIMEOUT_MS }, async () => {
      const deployment = deployments[kind];
      const client = clients[providerName];
      const subject = `frank-${kind}`;
      const apiPath = `/api/op${userinfoPath}`;
      const context = await recordingContext(deployment);
      try {
        const tab1 = await context.newPage();
        const code = await signIn(tab1, deployment, providerName, subject);
        const tab2 = await context.newPage();
        await tab2.goto(`${deployment.baseUrl}/`);
        await tab2.waitForFunction(
          () => document.getElementById('status').textContent.startsWith('Signed in as'),
        );
        await revokeAtProvider(client, code.response.access_token);

        // Hold the token endpoint so that the second tab's call meets the first one's refresh
        // in flight, as it would with a real provider's latency. Each tab asks for its own URL:
        // Chromium's HTTP cache lets only one request for a URL go to the network at a time,
        // and would hold the second tab's call until the first one's answer came back.
        const mark = provider.requests.length;
        provider.setTokenDelay(LATENCY_MS);
        let answers;
        try {
          answers = await Promise.all([
            tab1.evaluate(proxyGetInPage, `${apiPath}?tab=1`),
            tab2.evaluate(proxyGetInPage, `${apiPath}?tab=2`),
          ]);
        } finally {
          provider.setTokenDelay(0);
        }
        for (const a of answers) {
          assert.equal(a.status, 200, JSON.stringify(a));
          assert.equal(a.body.sub, subject);
        }
        const grants = provider.since(mark, { endpoint: 'token' });
        assert.equal(grants.length, 1, `exactly one refresh grant, got ${grants.length}`);
        assert.equal(grants[0].grant_type, 'refresh_token');
        assert.equal(grants[0].status, 200);
        assert.equal(grants[0].presented_refresh_token, code.response.refresh_token);
        const calls = provider.since(mark, { endpoint: 'userinfo' });
        for (const tab of ['1', '2']) {
          const mine = calls.filter((r) => r.query.tab === tab);
          assert.deepEqual(
            mine.map((r) => r.status),
            [401, 200],
            `tab ${tab}: the revoked token refused, then one retry: ${JSON.stringify(calls)}`,
          );
          assert.equal(mine[0].presented_access_token, code.response.access_token);
          assert.equal(mine[1].presented_access_token, grants[0].response.access_token, 'the one new token');
        }
        assert.equal(calls.length, 4);
        await sessionCookie(context, deployment);
      } finally {
        await context.close();
      }
    });

    test(`${kind}: /me/hello admits the live session and refuses it once ended`, { timeout: TEST_TIMEOUT_MS }, async () => {
      const deployment = deployments[kind];
      const subject = `erin-${kind}`;
      const context = await recordingContext(deployment);
      try {
        const page = await context.newPage();
        await signIn(page, deployment, providerName, subject);

        const mark = provider.requests.length;
        const hello = await clickAndReadApi(page, '#call-hello');
        assert.deepEqual(hello, { status: 200, body: { hello: subject, provider: providerName } });
        assert.deepEqual(provider.since(mark), [], 'the authorizer never calls the provider');

        // The same cookie from outside the browser is admitted while the session lives...
        const cookie = await sessionCookie(context, deployment);
        assert.ok(cookie, 'the browser holds the session cookie');
        const live = await helloWithCookie(deployment, cookie.value);
        assert.deepEqual(live, { status: 200, body: { hello: subject, provider: providerName } });
        // ...and neither no cookie nor a made-up one is.
        assert.deepEqual(await helloWithCookie(deployment, undefined), { status: 403, body: { message: 'Forbidden' } });
        assert.deepEqual(await helloWithCookie(deployment, 'not-a-session'), { status: 403, body: { message: 'Forbidden' } });

        await page.click('#logout');
        await page.waitForFunction(() => document.getElementById('status').textContent === 'Not signed in');
        assert.equal(await sessionCookie(context, deployment), undefined, 'the cookie is cleared');

        // The old cookie, sent again from outside the browser: API Gateway's 403.
        const ended = await helloWithCookie(deployment, cookie.value);
        assert.deepEqual(ended, { status: 403, body: { message: 'Forbidden' } });
        // And the page, without the cookie now, gets the same.
        const fromPage = await page.evaluate(() => fetch('/me/hello', { credentials: 'include' })
          .then(async (r) => ({ status: r.status, body: await r.json() })));
        assert.deepEqual(fromPage, { status: 403, body: { message: 'Forbidden' } });
      } finally {
        await context.close();
      }
    });
  }

  test('the provider reported no server error', () => {
    assert.deepEqual(provider.errors.filter((e) => e.event === 'server_error'), []);
  });

  test('no code, state, token, cookie or client secret in any deployment log', () => {
    for (const token of providerTokens()) secrets.add(token);
    assert.ok(secrets.size > 30, `collected ${secrets.size} values`);
    for (const d of Object.values(deployments)) {
      const log = fs.readFileSync(d.logFile, 'utf8');
      assert.match(log, /"status":200/, `${d.logFile} holds the request logs`);
      assert.match(log, /API answered/, `${d.logFile} holds the proxy's logs`);
      for (const secret of secrets) {
        assert.ok(!log.includes(secret), `${d.logFile} contains a secret value (${secret.slice(0, 6)}…)`);
      }
    }
  });
});
