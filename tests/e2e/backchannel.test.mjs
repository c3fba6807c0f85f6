// End-to-end: OpenID Connect Back-Channel Logout against a real provider (node's
// oidc-provider) in headless Chromium, deployed both as the `local` runner and as the real Lambda
// binaries behind an API-Gateway-like front, on the DynamoDB store (moto).
//
// A user signs in through the token handler at oidc-provider; the session and a forced refresh
// work. The user then logs out AT THE PROVIDER: the browser opens the provider's
// end_session_endpoint and confirms; oidc-provider POSTs a logout token (with the provider
// session's `sid`) to the deployment's /auth/{provider}/backchannel-logout. The browser still
// holds its session cookie, but /auth/session and /auth/refresh now answer 401: the session
// was deleted on the server. The same user signed in from another browser (another provider
// session, another `sid`) and another user keep their sessions. An id_token posted as a logout
// token is refused and ends nothing, and no id_token reaches a deployment's log.
//
// Each client at the provider has one back-channel URI, so each deployment is tested with the
// client whose URI points at it (clientsFor in deployments.mjs): local with `basic`, lambda
// with `post`.
//
// Run through tests/e2e/run (it builds the binaries and provides DYNAMODB_ENDPOINT).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { STARTUP_TIMEOUT_MS, TEST_TIMEOUT_MS, launchChromium, newContext } from './chromium.mjs';

import { ARTIFACTS } from './deployments.mjs';
import { signInAtProvider, startOidcRig } from './oidc-rig.mjs';

const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** What the page itself sends to read the session. */
function readSessionInPage() {
  return fetch('/auth/session', { credentials: 'include' })
    .then(async (r) => ({ status: r.status, body: await r.json() }));
}

/** What the page itself sends to force a refresh (the demo page's own POST helper). */
function forceRefreshInPage() {
  return fetch('/auth/refresh', {
    method: 'POST',
    credentials: 'include',
    headers: { 'X-Requested-With': 'fetch', 'Content-Type': 'application/json' },
    body: JSON.stringify({ force: true }),
  }).then(async (r) => ({ status: r.status, body: await r.json() }));
}

/** The claims of a JWT, unverified (the provider signed it; the test only reads it). */
function claimsOf(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
}

describe('a logout at oidc-provider ends the sessions it names (back-channel logout)', () => {
  let rig;
  let provider;
  let browser;
  let endSessionEndpoint;
  let deployments = {};
  let clients = {};

  before(async () => {
    rig = await startOidcRig((kind) => ({ name: `backchannel-${kind}` }));
    ({ provider, clients, deployments } = rig);
    const discovery = await (await fetch(`${provider.issuer}/.well-known/openid-configuration`)).json();
    assert.equal(discovery.backchannel_logout_supported, true);
    assert.equal(discovery.backchannel_logout_session_supported, true);
    assert.ok(discovery.end_session_endpoint, 'RP-initiated logout is enabled');
    endSessionEndpoint = discovery.end_session_endpoint;
    browser = await launchChromium();
  }, { timeout: 2 * STARTUP_TIMEOUT_MS });

  after(async () => {
    await browser?.close();
    await rig?.stop('backchannel-provider-requests.json');
  });

  /**
   * Opens a fresh browser profile as `browsers[label]` and signs `subject` in on the demo page
   * of `deployment` with `providerName`, through the provider's login and consent pages (so
   * with a provider session of its own). Returns `{context, page, subject, idToken, claims}`:
   * the id_token the code exchange delivered to the deployment, and its claims.
   */
  async function signIn(browsers, label, deployment, providerName, subject) {
    const context = await newContext(browser);
    const page = await context.newPage();
    const who = { context, page, subject };
    browsers[label] = who;
    const mark = provider.requests.length;
    await page.goto(`${deployment.baseUrl}/`);
    await page.waitForFunction(() => document.getElementById('status').textContent === 'Not signed in');
    await page.click(`#login-${providerName}`);
    await signInAtProvider(page, provider.issuer, subject);
    await page.waitForURL(`${deployment.baseUrl}/`);
    await page.waitForFunction(
      () => document.getElementById('status').textContent.startsWith('Signed in as'),
    );
    const [grant, ...more] = provider.since(mark, { endpoint: 'token', grant_type: 'authorization_code' });
    assert.equal(more.length, 0, 'one code exchange');
    assert.equal(grant.status, 200, JSON.stringify(grant.response));
    who.idToken = grant.response.id_token;
    who.claims = claimsOf(who.idToken);
    assert.equal(who.claims.sub, subject);
    assert.ok(who.claims.sid, 'the id_token carries the provider session id (backchannel_logout_session_required)');
    return who;
  }

  /**
   * Runs `body(browsers)` with an empty `browsers` for `signIn` to fill; on failure, screenshots
   * every page to tests/artifacts/<name>-<label>-failure.png. Closes the browsers in any case.
   */
  async function withBrowsers(name, body) {
    const browsers = {};
    try {
      await body(browsers);
    } catch (e) {
      fs.mkdirSync(ARTIFACTS, { recursive: true });
      for (const [label, b] of Object.entries(browsers)) {
        await b.page
          .screenshot({ path: path.join(ARTIFACTS, `${name}-${label}-failure.png`), fullPage: true })
          .catch(() => {});
      }
      throw e;
    } finally {
      for (const b of Object.values(browsers)) await b.context.close();
    }
  }

  async function assertSignedIn(who, providerName) {
    const session = await who.page.evaluate(readSessionInPage);
    assert.equal(session.status, 200, `${who.subject}: ${JSON.stringify(session.body)}`);
    assert.equal(session.body.provider, providerName);
    assert.equal(session.body.subject, who.subject);
  }

  /** The deployment `providerName`'s back-channel URI points at (see clientsFor). */
  function deploymentNotifiedFor(kind, providerName) {
    const client = clients[providerName];
    assert.equal(client.backchannel, kind, `${providerName}'s back-channel URI points at the ${kind} deployment`);
    return { client, deployment: deployments[kind] };
  }

  const scenarios = [
    { kind: 'local', providerName: 'basic' },
    { kind: 'lambda', providerName: 'post' },
  ];

  for (const { kind, providerName } of scenarios) {
    test(`${kind}: a logout at the provider ends that browser's session, not the same user's elsewhere nor another user's (${providerName})`, { timeout: TEST_TIMEOUT_MS }, async () => {
      const { client, deployment } = deploymentNotifiedFor(kind, providerName);
      await withBrowsers(`backchannel-${kind}`, async (browsers) => {
        // Arrange: alice in two browsers (two provider sessions), bob in a third.
        const alice = await signIn(browsers, 'alice', deployment, providerName, `alice-${kind}`);
        const aliceElsewhere = await signIn(browsers, 'alice-elsewhere', deployment, providerName, `alice-${kind}`);
        const bob = await signIn(browsers, 'bob', deployment, providerName, `bob-${kind}`);
        assert.notEqual(alice.claims.sid, aliceElsewhere.claims.sid, 'two provider sessions, two sids');

        await assertSignedIn(alice, providerName);
        const refreshed = await alice.page.evaluate(forceRefreshInPage);
        assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
        assert.ok(refreshed.body.access_token);

        // Act: alice logs out at the provider, on its own page, and confirms.
        const mark = provider.backchannel.length;
        await alice.page.goto(endSessionEndpoint);
        await alice.page.click('button[name=logout][value=yes]');
        // oidc-provider's end_session confirmation POSTs the logout tokens and awaits every
        // answer before it redirects the browser (lib/actions/end_session.js: `await
        // Promise.all(back)` before the 303), so once the browser has landed on the success
        // page the deployment has answered: no polling needed.
        await alice.page.waitForURL(`${provider.issuer}/session/end/success**`);

        // The provider delivered one logout token, for alice's provider session, to this
        // deployment, and our answer was 200.
        const deliveries = provider.backchannel.slice(mark);
        assert.deepEqual(
          deliveries.map(({ client_id, uri, sub, sid, status, error }) => ({ client_id, uri, sub, sid, status, error })),
          [{
            client_id: client.client_id,
            uri: `${deployment.baseUrl}/auth/${providerName}/backchannel-logout`,
            sub: alice.subject,
            sid: alice.claims.sid,
            status: 200,
            error: undefined,
          }],
        );

        // Assert: alice's browser still holds its session cookie, but the session behind it is
        // gone. (Her grant had offline_access, which oidc-provider keeps across its own logout,
        // so a refresh would still succeed at the provider: the 401 is the token handler's.)
        const cookies = await alice.context.cookies(deployment.baseUrl);
        assert.ok(cookies.some((c) => c.name === 'session'), 'the browser still holds the session cookie');
        await alice.page.goto(`${deployment.baseUrl}/`);
        await alice.page.waitForFunction(() => document.getElementById('status').textContent === 'Not signed in');
        const session = await alice.page.evaluate(readSessionInPage);
        assert.equal(session.status, 401, JSON.stringify(session.body));
        assert.equal(session.body.error, 'unauthenticated');
        const tokenMark = provider.requests.length;
        const refresh = await alice.page.evaluate(forceRefreshInPage);
        assert.equal(refresh.status, 401, JSON.stringify(refresh.body));
        assert.equal(refresh.body.error, 'unauthenticated');
        assert.deepEqual(provider.since(tokenMark, { endpoint: 'token' }), [], 'no refresh grant for a logged-out session');

        // Only the sessions the logout token named ended: alice's other provider session
        // (another sid) and bob's are still there, and bob's refreshes.
        await assertSignedIn(aliceElsewhere, providerName);
        await assertSignedIn(bob, providerName);
        const bobRefreshed = await bob.page.evaluate(forceRefreshInPage);
        assert.equal(bobRefreshed.status, 200, JSON.stringify(bobRefreshed.body));
      });
    });

    test(`${kind}: an id_token posted as a logout token is refused and ends no session (${providerName})`, { timeout: TEST_TIMEOUT_MS }, async () => {
      const { deployment } = deploymentNotifiedFor(kind, providerName);
      await withBrowsers(`backchannel-${kind}-id-token`, async (browsers) => {
        const carol = await signIn(browsers, 'carol', deployment, providerName, `carol-${kind}`);
        // Signed by the provider for this client, with carol's sub and sid, but no logout
        // token: no back-channel logout event, and a nonce.
        assert.equal(carol.claims.events?.[BACKCHANNEL_LOGOUT_EVENT], undefined);
        assert.ok(carol.claims.nonce);

        const r = await fetch(`${deployment.baseUrl}/auth/${providerName}/backchannel-logout`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ logout_token: carol.idToken }),
        });
        assert.equal(r.status, 400);
        assert.equal((await r.json()).error, 'invalid_request');

        await assertSignedIn(carol, providerName);
      });
    });
  }

  test('the provider reported no server error', () => {
    assert.deepEqual(provider.errors.filter((e) => e.event === 'server_error'), []);
  });

  test('no id_token, including the one posted as a logout token, in any deployment log', () => {
    const idTokens = provider.requests.map((r) => r.response?.id_token).filter(Boolean);
    assert.ok(idTokens.length >= 8, `collected ${idTokens.length} id_tokens`);
    for (const d of Object.values(deployments)) {
      const log = fs.readFileSync(d.logFile, 'utf8');
      for (const token of idTokens) {
        // The signature: the claims are base64url of JSON that could in principle recur.
        assert.ok(!log.includes(token.split('.')[2]), `${d.logFile} contains an id_token`);
      }
    }
  });
});
