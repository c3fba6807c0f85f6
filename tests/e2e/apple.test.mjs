// End-to-end: Sign in with Apple in headless Chromium against the Apple fixture
// (tests/src/bin/apple_fixture.rs), deployed both as the `local` runner and as the real Lambda
// binaries behind the API-Gateway-like front, on the DynamoDB store (moto), with
// `cookie_secure = true` as in production.
//
// Apple answers with `response_mode=form_post`: its page POSTs the code to the callback. The
// fixture is served from http://localhost and the token handler from http://127.0.0.1, two
// sites to the browser, so that POST is a cross-site request and only a `SameSite=None`
// binding cookie goes with it. Each deployment has its own fixture (its own key and its own
// memory of who authorized the app). Every assertion about Apple is on what the fixture
// received.
//
// Run through tests/e2e/run (it builds the binaries and provides DYNAMODB_ENDPOINT).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { STARTUP_TIMEOUT_MS, TEST_TIMEOUT_MS, launchChromium, newContext } from './chromium.mjs';

import { startAppleFixture } from './apple-fixture.mjs';
import { ARTIFACTS, freePort, startDeployment } from './deployments.mjs';


/** The cookie names with `cookie_secure = true`. */
const TX_COOKIE = '__Host-auth_tx';
const SESSION_COOKIE = '__Host-session';
/** The fixture user's name, as Apple's first-login `user` JSON gives it. */
const USER_NAME = 'Alice Example';
const APPLE_AUDIENCE = 'https://appleid.apple.com';

/** The demo page's own POST helper. */
function postInPage([path, body]) {
  return fetch(path, {
    method: 'POST',
    credentials: 'include',
    headers: { 'X-Requested-With': 'fetch', 'Content-Type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  }).then(async (r) => ({ status: r.status, body: await r.json() }));
}

function sessionInPage() {
  return fetch('/auth/session', { credentials: 'include' })
    .then(async (r) => ({ status: r.status, body: await r.json() }));
}

/** The `[providers.apple]` block for a fixture; the key comes from the environment. */
function appleProvider(fixture) {
  return `
[providers.apple]
preset = "apple"
issuer = "${fixture.issuer}"
client_id = "${fixture.client_id}"
team_id = "${fixture.team_id}"
key_id = "${fixture.key_id}"
private_key = "\${E2E_APPLE_KEY}"
`;
}

describe('Sign in with Apple (form_post, cross-site) in Chromium', () => {
  let browser;
  /** Per deployment kind: `{ deployment, fixture }`. */
  const rigs = {};
  /** Per deployment kind: the session a second login of the same user got. */
  const secondLogins = {};
  /** Values that must never appear in a deployment's logs. */
  const secrets = new Set();

  before(async () => {
    const kinds = ['local', 'lambda'];
    const started = await Promise.allSettled(kinds.map(async (kind) => {
      const fixture = await startAppleFixture(`apple-fixture-${kind}`);
      rigs[kind] = { fixture };
      assert.match(fixture.issuer, /^http:\/\/localhost:\d+$/, 'the fixture is on another site');
      const deployment = await startDeployment(kind, {
        port: await freePort(),
        providers: appleProvider(fixture),
        env: { E2E_APPLE_KEY: fixture.private_key_pem },
        cookieSecure: true,
        name: `apple-${kind}`,
      });
      rigs[kind].deployment = deployment;
    }));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;

    browser = await launchChromium();
  }, { timeout: 2 * STARTUP_TIMEOUT_MS });

  after(async () => {
    await browser?.close();
    await Promise.all(Object.values(rigs).flatMap(({ deployment, fixture }) => [
      deployment?.stop(),
      fixture?.stop(),
    ]));
  });

  /** A fresh browser profile with the suite's step timeout. */
  function freshContext() {
    return newContext(browser);
  }

  async function statusText(page) {
    return (await page.locator('#status').textContent()).trim();
  }

  /** The context's cookies for the token handler (127.0.0.1), each value remembered. */
  async function handlerCookies(context) {
    const cookies = (await context.cookies()).filter((c) => c.domain === '127.0.0.1');
    for (const c of cookies) secrets.add(c.value);
    return Object.fromEntries(cookies.map((c) => [c.name, c]));
  }

  /** The fields of an authorization response the browser POSTed, its values remembered. */
  function postedFields(request) {
    assert.equal(request.method(), 'POST');
    assert.match(request.headers()['content-type'], /^application\/x-www-form-urlencoded/);
    const fields = new URLSearchParams(request.postData());
    for (const name of ['code', 'state']) if (fields.get(name)) secrets.add(fields.get(name));
    return fields;
  }

  async function openDemo(context, deployment) {
    const page = await context.newPage();
    await page.goto(`${deployment.baseUrl}/`);
    await page.waitForFunction(() => document.getElementById('status').textContent === 'Not signed in');
    return page;
  }

  async function waitSignedIn(page, deployment, fixture) {
    await page.waitForURL(`${deployment.baseUrl}/`);
    await page.waitForFunction(
      () => document.getElementById('status').textContent.startsWith('Signed in as'),
    );
    assert.equal(await statusText(page), `Signed in as ${fixture.sub} (apple)`);
  }

  function assertSecretVerified(stats, fixture) {
    assert.equal(stats.client_secrets_rejected, 0, JSON.stringify(stats.last_client_secret));
    const cs = stats.last_client_secret;
    assert.equal(cs.verified, true, cs.failure);
    assert.equal(cs.header.alg, 'ES256');
    assert.equal(cs.header.kid, fixture.key_id);
    assert.equal(cs.claims.iss, fixture.team_id);
    assert.equal(cs.claims.sub, fixture.client_id);
    assert.equal(cs.claims.aud, APPLE_AUDIENCE);
  }

  for (const kind of ['local', 'lambda']) {
    test(`${kind}: cross-site form_post login with a SameSite=None binding, a forged POST without it refused, minted client secret, second login, refresh and logout`, { timeout: TEST_TIMEOUT_MS }, async () => {
      const { deployment, fixture } = rigs[kind];
      const callbackUrl = `${deployment.baseUrl}/auth/apple/callback`;
      const isCallbackPost = (r) => r.url() === callbackUrl && r.method() === 'POST';
      const contexts = [];
      try {
        // --- The victim's browser starts a login; its form POST back is held at the door.
        const victim = await freshContext();
        contexts.push(victim);
        const page = await openDemo(victim, deployment);
        let release;
        const held = new Promise((resolve) => { release = resolve; });
        await page.route((url) => url.href === callbackUrl, (route) => release(route));
        const authorize = page.waitForRequest((r) => r.url().startsWith(`${fixture.issuer}/auth/authorize?`));
        // The click waits for the navigations it started, so it ends once the POST goes on.
        const clicked = page.click('#login-apple').then(() => undefined, (e) => e);
        const authorizationUrl = (await authorize).url();
        const route = await held;

        const request = new URL(authorizationUrl).searchParams;
        assert.equal(request.get('client_id'), fixture.client_id);
        assert.equal(request.get('redirect_uri'), callbackUrl);
        assert.equal(request.get('response_type'), 'code');
        assert.equal(request.get('response_mode'), 'form_post');
        assert.deepEqual(request.get('scope').split(' ').sort(), ['email', 'name']);
        const state = request.get('state');
        assert.ok(state, 'a state');
        secrets.add(state);

        const binding = (await handlerCookies(victim))[TX_COOKIE];
        assert.ok(binding, `the browser holds ${TX_COOKIE}`);
        assert.equal(binding.sameSite, 'None');
        assert.equal(binding.secure, true);
        assert.equal(binding.httpOnly, true);
        assert.equal(binding.path, '/');

        // What Apple's page posts on the victim's first authorization: the name as `user`.
        const victimFields = postedFields(route.request());
        assert.equal(victimFields.get('state'), state);
        assert.ok(victimFields.get('code'), 'a code');
        assert.deepEqual(JSON.parse(victimFields.get('user')).name, { firstName: 'Alice', lastName: 'Example' });
        let stats = await fixture.stats();
        assert.ok(stats.last_authorization_response_fields.includes('user'), 'a first authorization');

        // --- Another browser, without the binding cookie, takes the same authorization URL:
        // Apple's page posts a code and the victim's state to the callback, which refuses it.
        const forger = await freshContext();
        contexts.push(forger);
        const forgerPage = await forger.newPage();
        const forgedPost = forgerPage.waitForRequest(isCallbackPost);
        const forgedAnswer = forgerPage.waitForResponse((r) => isCallbackPost(r.request()));
        await forgerPage.goto(authorizationUrl, { waitUntil: 'commit' });
        const forgedFields = postedFields(await forgedPost);
        assert.equal(forgedFields.get('state'), state, 'the victim\'s state');
        const forged = await forgedAnswer;
        assert.equal(forged.status(), 400);
        assert.equal((await forged.json()).error, 'invalid_state');
        assert.equal((await handlerCookies(forger))[SESSION_COOKIE], undefined, 'no session for the forger');
        stats = await fixture.stats();
        assert.equal(stats.token_by_grant.authorization_code ?? 0, 0, 'the forged code was not exchanged');

        // --- The victim's POST goes on: the binding went with it across sites, and the
        // refused forgery did not consume the transaction.
        const answer = page.waitForResponse((r) => isCallbackPost(r.request()));
        await route.continue();
        assert.equal((await answer).status(), 302, 'signed in and sent back');
        const clickError = await clicked;
        if (clickError) throw clickError;
        await page.unrouteAll();
        await waitSignedIn(page, deployment, fixture);
        const cookies = await handlerCookies(victim);
        assert.equal(cookies[TX_COOKIE], undefined, 'the binding cookie is cleared');
        const sessionCookie = cookies[SESSION_COOKIE];
        assert.ok(sessionCookie, `the browser holds ${SESSION_COOKIE}`);
        assert.equal(sessionCookie.secure, true);
        assert.equal(sessionCookie.httpOnly, true);
        assert.equal(sessionCookie.sameSite, 'Lax');

        const session = await page.evaluate(sessionInPage);
        assert.equal(session.status, 200, JSON.stringify(session.body));
        assert.equal(session.body.provider, 'apple');
        assert.equal(session.body.subject, fixture.sub);
        assert.equal(session.body.profile?.name, USER_NAME, 'the name from the first login\'s user JSON');
        fs.mkdirSync(ARTIFACTS, { recursive: true });
        await page.screenshot({ path: path.join(ARTIFACTS, `apple-${kind}-signed-in.png`), fullPage: true });

        // The code exchange authenticated with the minted ES256 client secret, checked with
        // the public half of the key.
        stats = await fixture.stats();
        assert.equal(stats.token_by_grant.authorization_code, 1, 'one code exchange');
        assert.ok(stats.client_secrets_verified >= 1);
        assertSecretVerified(stats, fixture);
        assert.ok(stats.discovery >= 1 && stats.keys >= 1,
          'discovery and keys fetched from http://localhost server side');

        // --- The same user signs in again in a fresh browser: Apple sends no `user` now.
        const again = await freshContext();
        contexts.push(again);
        const page2 = await openDemo(again, deployment);
        const secondPost = page2.waitForRequest(isCallbackPost);
        await page2.click('#login-apple');
        const secondFields = postedFields(await secondPost);
        assert.equal(secondFields.has('user'), false, 'no user JSON on a later authorization');
        await waitSignedIn(page2, deployment, fixture);
        await handlerCookies(again);
        stats = await fixture.stats();
        assert.deepEqual(stats.last_authorization_response_fields, ['state', 'code']);
        assert.equal(stats.token_by_grant.authorization_code, 2);
        assertSecretVerified(stats, fixture);
        const second = await page2.evaluate(sessionInPage);
        assert.equal(second.status, 200, JSON.stringify(second.body));
        assert.equal(second.body.provider, 'apple');
        assert.equal(second.body.subject, fixture.sub);
        secondLogins[kind] = second.body;

        // --- Forced refresh from the page: a refresh grant with a verified client secret.
        const beforeRefresh = await fixture.stats();
        const refreshed = await page.evaluate(postInPage, ['/auth/refresh', { force: true }]);
        assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
        assert.equal(refreshed.body.token_type, 'Bearer');
        stats = await fixture.stats();
        assert.equal(stats.token_by_grant.refresh_token, (beforeRefresh.token_by_grant.refresh_token ?? 0) + 1);
        assert.equal(stats.client_secrets_verified, beforeRefresh.client_secrets_verified + 1);
        assertSecretVerified(stats, fixture);
        const issued = await fixture.issued();
        assert.equal(refreshed.body.access_token, issued.access_tokens.at(-1), 'the token Apple just issued');
        assert.equal(refreshed.body.refresh_token, undefined);
        assert.equal(refreshed.body.id_token, undefined);

        // --- Logout from the page: Apple receives the revocation; the session is gone.
        const beforeLogout = stats;
        const loggedOut = await page.evaluate(postInPage, ['/auth/logout']);
        assert.equal(loggedOut.status, 200, JSON.stringify(loggedOut.body));
        assert.equal(loggedOut.body.logged_out, true);
        stats = await fixture.stats();
        assert.equal(stats.revoke, beforeLogout.revoke + 1, 'one revocation at Apple');
        assert.equal(stats.client_secrets_verified, beforeLogout.client_secrets_verified + 1);
        assertSecretVerified(stats, fixture);
        const afterLogout = await page.evaluate(sessionInPage);
        assert.equal(afterLogout.status, 401, JSON.stringify(afterLogout.body));
        const replay = await fetch(`${deployment.baseUrl}/auth/session`, {
          headers: { cookie: `${SESSION_COOKIE}=${sessionCookie.value}` },
        });
        assert.equal(replay.status, 401, 'the old session cookie names no session');
      } finally {
        await Promise.all(contexts.map((c) => c.close()));
      }
    });

    // Apple sends the name on a user's first authorization only. Keeping it for later logins
    // needs the token handler to remember it per user.
    test(`${kind}: a second login, without Apple's user JSON, still shows the first login's name`, () => {
      const second = secondLogins[kind];
      assert.ok(second, 'the scenario above got as far as the second login');
      assert.equal(second.profile?.name, USER_NAME, `second login's profile: ${JSON.stringify(second.profile)}`);
    });
  }

  test('no code, state, cookie, token, client secret or private key in any deployment log', async () => {
    for (const { fixture } of Object.values(rigs)) {
      const issued = await fixture.issued();
      for (const list of [issued.access_tokens, issued.refresh_tokens, issued.id_tokens]) {
        assert.ok(list.length >= 1);
        for (const token of list) secrets.add(token);
      }
      assert.ok(issued.client_secret, 'the fixture saw a client secret');
      secrets.add(issued.client_secret);
      // The PEM whole, and each line of its body (a log line might hold it re-wrapped).
      secrets.add(fixture.private_key_pem.trim());
      for (const line of fixture.private_key_pem.split('\n')) {
        if (line.length >= 16 && !line.startsWith('-----')) secrets.add(line);
      }
    }
    assert.ok(secrets.size > 20, `collected ${secrets.size} values`);
    for (const { deployment } of Object.values(rigs)) {
      const log = fs.readFileSync(deployment.logFile, 'utf8');
      assert.match(log, /"status":200/, `${deployment.logFile} holds the request logs`);
      for (const secret of secrets) {
        assert.ok(!log.includes(secret), `${deployment.logFile} contains a secret value (${secret.slice(0, 6)}…)`);
      }
    }
  });
});
