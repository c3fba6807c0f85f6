// End-to-end: the token handler against a real OpenID provider (node's oidc-provider) in
// headless Chromium, deployed both as the `local` runner and as the real Lambda binaries
// behind an API-Gateway-like front, on the DynamoDB store (moto).
//
// A user signs in on the demo page through the provider's own login and consent pages, reads
// the session, gets the cached access token, forces two refreshes (the second presents the
// rotated refresh token), logs out (the provider receives the revocation) and the old session
// cookie is refused. Two tabs forcing a refresh at once cause one refresh grant and get the
// same token. Every assertion about the provider is on what it actually received.
//
// Run through tests/e2e/run (it builds the binaries and provides DYNAMODB_ENDPOINT).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { STARTUP_TIMEOUT_MS, TEST_TIMEOUT_MS, launchChromium, newContext } from './chromium.mjs';

import { ARTIFACTS } from './deployments.mjs';
import { signInAtProvider, startOidcRig } from './oidc-rig.mjs';

/** Held in front of the provider's token endpoint while two tabs refresh at once. */
const LATENCY_MS = 300;

/** What the page itself sends: the demo page's own POST helper. */
function forceRefreshInPage() {
  return fetch('/auth/refresh', {
    method: 'POST',
    credentials: 'include',
    headers: { 'X-Requested-With': 'fetch', 'Content-Type': 'application/json' },
    body: JSON.stringify({ force: true }),
  }).then(async (r) => ({ status: r.status, body: await r.json() }));
}

describe('token handler against oidc-provider in Chromium', () => {
  let rig;
  let provider;
  let browser;
  let deployments = {};
  let clients = {};
  /** Values that must never appear in a deployment's logs: codes, states, cookies, secrets. */
  const secrets = new Set();

  before(async () => {
    rig = await startOidcRig();
    ({ provider, clients, deployments } = rig);
    for (const c of Object.values(clients)) secrets.add(c.client_secret);
    const discovery = await (await fetch(`${provider.issuer}/.well-known/openid-configuration`)).json();
    assert.equal(discovery.authorization_response_iss_parameter_supported, true);
    assert.ok(discovery.revocation_endpoint, 'revocation is enabled');
    assert.ok(discovery.end_session_endpoint, 'RP-initiated logout is enabled');
    assert.deepEqual(discovery.code_challenge_methods_supported, ['S256']);

    browser = await launchChromium();
  }, { timeout: 2 * STARTUP_TIMEOUT_MS });

  after(async () => {
    await browser?.close();
    await rig?.stop('provider-requests.json');
  });

  /** A fresh browser profile with the suite's step timeout. */
  function freshContext() {
    return newContext(browser);
  }

  async function statusText(page) {
    return (await page.locator('#status').textContent()).trim();
  }

  /** The JSON the demo page shows in <pre id="token">. */
  async function shownToken(page) {
    return JSON.parse(await page.locator('#token').textContent());
  }

  /** Clicks a demo button and returns the answer it shows in <pre id="token">. */
  async function clickAndReadToken(page, button) {
    await page.evaluate(() => {
      document.getElementById('token').textContent = '';
    });
    await page.click(button);
    await page.waitForFunction(() => document.getElementById('token').textContent !== '');
    return shownToken(page);
  }

  /**
   * Signs `subject` in on the demo page of `deployment` with `providerName`, through the
   * provider's login and consent pages. Returns the provider requests of this login.
   */
  async function signIn(page, deployment, providerName, subject) {
    const mark = provider.requests.length;
    await page.goto(`${deployment.baseUrl}/`);
    await page.waitForFunction(() => document.getElementById('status').textContent === 'Not signed in');
    const callback = page.waitForRequest((r) => r.url().startsWith(`${deployment.baseUrl}/auth/${providerName}/callback?`));
    await page.click(`#login-${providerName}`);

    await signInAtProvider(page, provider.issuer, subject);

    // The authorization response, as the browser carried it to the callback (RFC 9207 `iss`).
    const response = new URL((await callback).url()).searchParams;
    assert.equal(response.get('iss'), provider.issuer);
    assert.ok(response.get('code') && response.get('state'));
    secrets.add(response.get('code'));
    secrets.add(response.get('state'));

    await page.waitForURL(`${deployment.baseUrl}/`);
    await page.waitForFunction(
      () => document.getElementById('status').textContent.startsWith('Signed in as'),
    );
    assert.equal(await statusText(page), `Signed in as ${subject} (${providerName})`);
    return provider.requests.slice(mark);
  }

  function assertLoginReachedProvider(requests, client) {
    const authz = requests.filter((r) => r.endpoint === 'authorization');
    assert.ok(authz.length >= 1, 'the browser went to the authorization endpoint');
    const q = authz[0].query;
    assert.equal(q.client_id, client.client_id);
    assert.equal(q.response_type, 'code');
    assert.equal(q.code_challenge_method, 'S256');
    assert.ok(q.code_challenge && q.state && q.nonce, 'PKCE challenge, state and nonce sent');
    assert.equal(q.prompt, 'consent');
    assert.deepEqual(q.scope.split(' ').sort(), ['email', 'offline_access', 'openid', 'profile']);

    const grants = requests.filter((r) => r.endpoint === 'token');
    assert.equal(grants.length, 1, 'exactly one token request: the code exchange');
    const [grant] = grants;
    assert.equal(grant.grant_type, 'authorization_code');
    assert.equal(grant.status, 200, JSON.stringify(grant.response));
    assert.equal(grant.client_id, client.client_id);
    assert.equal(grant.client_auth, client.token_endpoint_auth_method);
    assert.ok(grant.response.refresh_token, 'the provider issued a refresh token');
    return grant;
  }

  async function sessionCookie(context, deployment) {
    const cookies = await context.cookies(deployment.baseUrl);
    for (const c of cookies) secrets.add(c.value);
    return cookies.find((c) => c.name === 'session');
  }

  async function sessionWithCookie(deployment, cookie) {
    const r = await fetch(`${deployment.baseUrl}/auth/session`, {
      headers: { cookie: `session=${cookie}` },
    });
    return { status: r.status, body: await r.json() };
  }

  const scenarios = [
    { deployment: 'local', providerName: 'basic' },
    { deployment: 'lambda', providerName: 'post' },
  ];

  for (const { deployment: kind, providerName } of scenarios) {
    test(`${kind}: sign in with ${providerName} client auth, cached and forced refresh with rotation, logout revokes`, { timeout: TEST_TIMEOUT_MS }, async () => {
      const deployment = deployments[kind];
      const client = clients[providerName];
      const subject = `alice-${kind}`;
      const context = await freshContext();
      try {
        const page = await context.newPage();
        const login = await signIn(page, deployment, providerName, subject);
        const code = assertLoginReachedProvider(login, client);

        // The session, as the page shows it and as /auth/session answers.
        const session = await page.evaluate(() =>
          fetch('/auth/session', { credentials: 'include' }).then(async (r) => ({ status: r.status, body: await r.json() })));
        assert.equal(session.status, 200);
        assert.equal(session.body.provider, providerName);
        assert.equal(session.body.subject, subject);
        assert.equal(session.body.profile.email, `${subject}@example.test`);
        assert.ok(session.body.access_token_expires_at > Date.now() / 1000 + 3000);
        assert.match(await page.locator('#session').textContent(), new RegExp(`"subject": "${subject}"`));
        fs.mkdirSync(ARTIFACTS, { recursive: true });
        await page.screenshot({ path: path.join(ARTIFACTS, `${kind}-signed-in.png`), fullPage: true });
        assert.match(await page.locator('body').innerText(), new RegExp(`Signed in as ${subject}`));

        // Get access token: the stored one, no refresh grant at the provider.
        let mark = provider.requests.length;
        const cached = await clickAndReadToken(page, '#get-token');
        assert.equal(cached.status, 200);
        assert.equal(cached.token_type, 'Bearer');
        assert.equal(cached.access_token, code.response.access_token, 'the access token from the code exchange');
        assert.deepEqual(provider.since(mark, { endpoint: 'token' }), [], 'no token request for a cached token');

        // Force refresh: one refresh grant presenting the refresh token from the code exchange.
        mark = provider.requests.length;
        const first = await clickAndReadToken(page, '#force-refresh');
        assert.equal(first.status, 200, JSON.stringify(first));
        const [refresh1, ...more1] = provider.since(mark, { endpoint: 'token' });
        assert.equal(more1.length, 0, 'exactly one token request');
        assert.equal(refresh1.grant_type, 'refresh_token');
        assert.equal(refresh1.status, 200, JSON.stringify(refresh1.response));
        assert.equal(refresh1.client_auth, client.token_endpoint_auth_method);
        assert.equal(refresh1.presented_refresh_token, code.response.refresh_token);
        assert.notEqual(refresh1.response.refresh_token, code.response.refresh_token, 'the provider rotated it');
        assert.equal(first.access_token, refresh1.response.access_token);
        assert.equal(first.token_type, 'Bearer');
        assert.ok(first.expires_in > 3000 && first.expires_in <= 3600, `expires_in ${first.expires_in}`);
        assert.deepEqual(first.scope.split(' ').sort(), ['email', 'offline_access', 'openid', 'profile']);
        assert.equal(first.refresh_token, undefined);
        assert.equal(first.id_token, undefined);
        assert.notEqual(first.access_token, cached.access_token);

        // Again: this time the rotated refresh token must be presented, so it was stored.
        mark = provider.requests.length;
        const second = await clickAndReadToken(page, '#force-refresh');
        assert.equal(second.status, 200, JSON.stringify(second));
        const [refresh2, ...more2] = provider.since(mark, { endpoint: 'token' });
        assert.equal(more2.length, 0, 'exactly one token request');
        assert.equal(refresh2.grant_type, 'refresh_token');
        assert.equal(refresh2.status, 200, JSON.stringify(refresh2.response));
        assert.equal(refresh2.presented_refresh_token, refresh1.response.refresh_token, 'the rotated refresh token');
        assert.equal(second.access_token, refresh2.response.access_token);

        // The page never saw a refresh token or an id_token.
        const html = await page.content();
        for (const grant of [code, refresh1, refresh2]) {
          assert.ok(!html.includes(grant.response.refresh_token), 'no refresh token in the page');
          if (grant.response.id_token) assert.ok(!html.includes(grant.response.id_token), 'no id_token in the page');
        }

        // Log out: the provider receives the revocation of the current refresh token.
        const oldCookie = await sessionCookie(context, deployment);
        assert.ok(oldCookie, 'the browser holds the session cookie');
        assert.equal(oldCookie.httpOnly, true);
        assert.equal(oldCookie.sameSite, 'Lax');
        mark = provider.requests.length;
        const loggedOut = await clickAndReadToken(page, '#logout');
        assert.equal(loggedOut.status, 200, JSON.stringify(loggedOut));
        assert.equal(loggedOut.logged_out, true);
        assert.ok(
          loggedOut.end_session_url?.startsWith(`${provider.issuer}/session/end?`),
          `end_session_url: ${loggedOut.end_session_url}`,
        );
        await page.waitForFunction(() => document.getElementById('status').textContent === 'Not signed in');
        const revocations = provider.since(mark, { endpoint: 'revocation' });
        assert.equal(revocations.length, 1, 'one revocation request');
        assert.equal(revocations[0].status, 200);
        assert.equal(revocations[0].client_id, client.client_id);
        assert.equal(revocations[0].client_auth, client.token_endpoint_auth_method);
        assert.equal(revocations[0].revoked_token, refresh2.response.refresh_token, 'the current refresh token');
        assert.equal(revocations[0].token_type_hint, 'refresh_token');
        assert.deepEqual(provider.since(mark, { endpoint: 'token' }), []);
        assert.equal(await sessionCookie(context, deployment), undefined, 'the cookie is cleared');

        // The old cookie, sent again from outside the browser, no longer names a session.
        const replay = await sessionWithCookie(deployment, oldCookie.value);
        assert.equal(replay.status, 401);
        assert.equal(replay.body.error, 'unauthenticated');
      } finally {
        await context.close();
      }
    });
  }

  // Each deployment with the client the scenario above did not use, so both deployments run
  // both client authentication methods.
  const races = [
    { deployment: 'local', providerName: 'post' },
    { deployment: 'lambda', providerName: 'basic' },
  ];

  for (const { deployment: kind, providerName } of races) {
    test(`${kind}: two tabs force a refresh at once, one refresh grant, one token (${providerName})`, { timeout: TEST_TIMEOUT_MS }, async () => {
      const deployment = deployments[kind];
      const client = clients[providerName];
      const context = await freshContext();
      try {
        const tab1 = await context.newPage();
        const login = await signIn(tab1, deployment, providerName, `bob-${kind}`);
        const code = assertLoginReachedProvider(login, client);
        const tab2 = await context.newPage();
        await tab2.goto(`${deployment.baseUrl}/`);
        await tab2.waitForFunction(
          () => document.getElementById('status').textContent.startsWith('Signed in as'),
        );

        // Real providers answer in tens to hundreds of milliseconds; on loopback oidc-provider
        // answers in a few, and the two requests might then not overlap at all. Hold its token
        // endpoint for a while so that they do, as they would in production.
        const mark = provider.requests.length;
        provider.setTokenDelay(LATENCY_MS);
        let answers;
        try {
          answers = await Promise.all([tab1.evaluate(forceRefreshInPage), tab2.evaluate(forceRefreshInPage)]);
        } finally {
          provider.setTokenDelay(0);
        }

        for (const a of answers) assert.equal(a.status, 200, JSON.stringify(a.body));
        const grants = provider.since(mark, { endpoint: 'token' });
        assert.equal(grants.length, 1, `exactly one refresh grant, got ${grants.length}`);
        assert.equal(grants[0].grant_type, 'refresh_token');
        assert.equal(grants[0].status, 200);
        assert.equal(grants[0].presented_refresh_token, code.response.refresh_token);
        assert.equal(answers[0].body.access_token, answers[1].body.access_token, 'both tabs get the same token');
        assert.equal(answers[0].body.access_token, grants[0].response.access_token);
        assert.notEqual(answers[0].body.access_token, code.response.access_token);

        // The rotated refresh token was stored once: the next forced refresh presents it.
        const mark2 = provider.requests.length;
        const next = await tab1.evaluate(forceRefreshInPage);
        assert.equal(next.status, 200, JSON.stringify(next.body));
        const [again] = provider.since(mark2, { endpoint: 'token' });
        assert.equal(again.presented_refresh_token, grants[0].response.refresh_token);
      } finally {
        await context.close();
      }
    });
  }

  test('the provider reported no server error', () => {
    assert.deepEqual(provider.errors.filter((e) => e.event === 'server_error'), []);
  });

  test('no code, state, token, cookie or client secret in any deployment log', () => {
    for (const r of provider.requests) {
      for (const key of ['access_token', 'refresh_token', 'id_token']) {
        if (r.response?.[key]) secrets.add(r.response[key]);
      }
    }
    assert.ok(secrets.size > 20, `collected ${secrets.size} values`);
    for (const d of Object.values(deployments)) {
      const log = fs.readFileSync(d.logFile, 'utf8');
      assert.match(log, /"status":200/, `${d.logFile} holds the request logs`);
      for (const secret of secrets) {
        assert.ok(!log.includes(secret), `${d.logFile} contains a secret value (${secret.slice(0, 6)}…)`);
      }
    }
  });
});
