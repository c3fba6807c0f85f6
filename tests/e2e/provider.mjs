// A real OpenID provider for the end-to-end tests: node's oidc-provider (panva), certified
// OpenID Connect, on a free 127.0.0.1 port with a plain-http issuer (tests only).
//
// Configured the way a careful production issuer is: PKCE required (S256 only), RS256 ID
// tokens from a freshly generated key, refresh tokens always issued and rotated on every use,
// RFC 9207 `iss` in authorization responses, RFC 7009 revocation, RP-initiated logout and
// OpenID Connect Back-Channel Logout (a client registered with a `backchannel_logout_uri` is
// sent a logout token when the user logs out at the provider).
// The built-in development interactions (a login form that accepts any login and password,
// and a consent form) are what the browser fills in.
//
// Every request to the token, revocation and userinfo endpoints is recorded (what was
// presented, how the client authenticated, what was answered) so the tests can assert exactly
// which grants and API calls reached the provider. `setTokenDelay(ms)` holds POST /token for a
// while before answering, to model network latency where a test needs two requests to overlap.
// `refuseUserinfo(true)` makes the userinfo endpoint answer 401 `invalid_token` to every
// access token, as an API does that no longer accepts a token the client thinks valid.
// Every back-channel logout the provider delivers is recorded in `backchannel` (to which client
// and URI, for which `sub` and `sid`, the HTTP status it got back, or the error).

import crypto from 'node:crypto';
import diagnosticsChannel from 'node:diagnostics_channel';
import http from 'node:http';

import Provider from 'oidc-provider';

/** The userinfo endpoint's path under the issuer (discovery's `userinfo_endpoint`). */
const USERINFO_PATH = '/me';
/**
 * How long the provider waits for a back-channel logout answer. oidc-provider's default is
 * 2.5 s; the Lambda deployment's session function fetches the provider's JWKS and queries the
 * DynamoDB stand-in on a loaded two-core CI machine, and a delivery that times out is a flaky
 * test, not a finding. Real providers allow a few seconds too.
 */
const BACKCHANNEL_TIMEOUT_MS = 10_000;

/** Claims of the test accounts: any login is an account, named after it. */
function account(sub) {
  return {
    accountId: sub,
    async claims() {
      return { sub, email: `${sub}@example.test`, email_verified: true, name: `Test ${sub}` };
    },
  };
}

/** A plain HTML error page, so a failed authorization request is readable in a screenshot. */
async function renderError(ctx, out) {
  ctx.type = 'html';
  const text = Object.entries(out)
    .map(([k, v]) => `${k}: ${String(v).replace(/[<>&"]/g, '')}`)
    .join('\n');
  ctx.body = `<!doctype html><title>oidc-provider error</title><pre id="op-error">${text}</pre>`;
}

function listen(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server.address().port));
  });
}

/**
 * Starts the provider.
 *
 * @param {object} options
 * @param {Array<{client_id: string, client_secret: string, token_endpoint_auth_method: string,
 *   redirect_uris: string[], backchannel_logout_uri?: string,
 *   backchannel_logout_session_required?: boolean}>} options.clients
 * @returns {Promise<{issuer: string, requests: object[], errors: object[], backchannel: object[],
 *   setTokenDelay: (ms: number) => void, refuseUserinfo: (refused: boolean) => void,
 *   since: (mark: number, filter?: object) => object[], close: () => Promise<void>}>}
 */
export async function startProvider({ clients }) {
  const server = http.createServer();
  const port = await listen(server);
  const issuer = `http://127.0.0.1:${port}`;

  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const signingKey = {
    ...privateKey.export({ format: 'jwk' }),
    kid: crypto.randomBytes(8).toString('hex'),
    alg: 'RS256',
    use: 'sig',
  };

  const provider = new Provider(issuer, {
    clients: clients.map((c) => ({
      ...c,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      id_token_signed_response_alg: 'RS256',
    })),
    responseTypes: ['code'],
    jwks: { keys: [signingKey] },
    findAccount: (ctx, sub) => account(sub),
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name'],
    },
    // Profile claims in the ID token too (as Google's are), not only at userinfo.
    conformIdTokenClaims: false,
    pkce: { methods: ['S256'], required: () => true },
    // Always a refresh token, and a new one on every refresh (the old one is then spent).
    issueRefreshToken: async () => true,
    rotateRefreshToken: true,
    // oidc-provider's default, spelled out: the recording below recognizes it by this path.
    routes: { userinfo: USERINFO_PATH },
    features: {
      devInteractions: { enabled: true },
      revocation: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      // A logout at the provider (its end_session_endpoint, confirmed by the user) POSTs a
      // logout token to the `backchannel_logout_uri` of every client in that provider session,
      // and awaits the answers before it redirects the browser. oidc-provider accepts a
      // plain-http loopback URI as it is (the metadata only has to be a web URI); clients with
      // `backchannel_logout_session_required` get `sid` in their id_tokens and logout tokens.
      backchannelLogout: { enabled: true },
    },
    // Every outgoing request's options; the back-channel POSTs are the only ones here.
    httpOptions: () => ({ signal: AbortSignal.timeout(BACKCHANNEL_TIMEOUT_MS) }),
    cookies: {
      keys: [crypto.randomBytes(32).toString('base64url')],
      // oidc-provider's long-lived session cookie is SameSite=None by default, which browsers
      // drop unless it is also Secure, and a plain-http issuer cannot set Secure cookies.
      long: { httpOnly: true, sameSite: 'lax' },
      short: { httpOnly: true, sameSite: 'lax' },
    },
    renderError,
  });

  const requests = [];
  const errors = [];
  /** One entry per back-channel logout delivery, in the order they completed. */
  const backchannel = [];
  let tokenDelayMs = 0;
  let userinfoRefused = false;

  provider.use(async (ctx, next) => {
    const endpoint = ctx.method === 'POST' && ctx.path === '/token'
      ? 'token'
      : ctx.method === 'POST' && ctx.path === '/token/revocation'
        ? 'revocation'
        : ctx.method === 'GET' && ctx.path === '/auth'
          ? 'authorization'
          : (ctx.method === 'GET' || ctx.method === 'POST') && ctx.path === USERINFO_PATH
            ? 'userinfo'
            : undefined;
    if (endpoint === 'token' && tokenDelayMs > 0) {
      await new Promise((resolve) => setTimeout(resolve, tokenDelayMs));
    }
    const authorization = ctx.get('authorization');
    if (endpoint === 'userinfo' && userinfoRefused) {
      // What oidc-provider answers for a token it does not know, without asking it.
      ctx.status = 401;
      ctx.set('WWW-Authenticate', `Bearer realm="${issuer}", error="invalid_token", error_description="refused by the test"`);
      ctx.body = { error: 'invalid_token', error_description: 'refused by the test' };
    } else {
      await next();
    }
    if (!endpoint) return;
    if (endpoint === 'userinfo') {
      const answer = ctx.body && typeof ctx.body === 'object' ? ctx.body : {};
      requests.push({
        endpoint,
        at: Date.now(),
        method: ctx.method,
        status: ctx.status,
        // The bearer token of the Authorization header; a token in the query would be in `query`.
        presented_access_token: /^bearer /i.test(authorization) ? authorization.slice(7).trim() : undefined,
        query: { ...ctx.query },
        header_names: Object.keys(ctx.headers).sort(),
        sub: answer.sub,
        error: answer.error,
        www_authenticate: ctx.response.get('WWW-Authenticate') || undefined,
      });
      return;
    }
    const body = ctx.oidc?.body ?? {};
    const basic = /^basic /i.test(authorization);
    requests.push({
      endpoint,
      at: Date.now(),
      status: ctx.status,
      client_id: ctx.oidc?.client?.clientId ?? body.client_id ?? ctx.query.client_id,
      client_auth: basic ? 'client_secret_basic' : body.client_secret ? 'client_secret_post' : 'none',
      grant_type: body.grant_type,
      presented_refresh_token: body.grant_type === 'refresh_token' ? body.refresh_token : undefined,
      revoked_token: endpoint === 'revocation' ? body.token : undefined,
      token_type_hint: body.token_type_hint,
      query: endpoint === 'authorization' ? { ...ctx.query } : undefined,
      response: endpoint === 'token' && ctx.body && typeof ctx.body === 'object' ? { ...ctx.body } : undefined,
    });
  });

  for (const event of ['server_error', 'grant.error', 'revocation.error', 'authorization.error', 'userinfo.error']) {
    provider.on(event, (ctx, error) => {
      errors.push({ event, error: `${error?.name}: ${error?.message} ${error?.error_description ?? ''}` });
    });
  }

  // oidc-provider's backchannel.success event says only that the answer was 200 or 204, and
  // backchannel.error carries the response only for other statuses. The status itself is read
  // where node's HTTP client parses it (a documented diagnostics channel, published before the
  // provider sees the response), for POSTs to this provider's registered back-channel URIs.
  const backchannelUris = new Set(clients.map((c) => c.backchannel_logout_uri).filter(Boolean));
  const lastStatus = new Map();
  const onResponse = ({ request, response }) => {
    const uri = `${request.protocol}//${request.getHeader('host')}${request.path}`;
    if (request.method === 'POST' && backchannelUris.has(uri)) lastStatus.set(uri, response.statusCode);
  };
  diagnosticsChannel.subscribe('http.client.response.finish', onResponse);
  const delivered = (client, sub, sid, error) => {
    const uri = client.backchannelLogoutUri;
    const status = error ? error.response?.statusCode : lastStatus.get(uri);
    lastStatus.delete(uri);
    backchannel.push({
      at: Date.now(),
      client_id: client.clientId,
      uri,
      sub,
      sid,
      status,
      error: error ? `${error.name}: ${error.message}` : undefined,
    });
  };
  provider.on('backchannel.success', (ctx, client, sub, sid) => delivered(client, sub, sid));
  provider.on('backchannel.error', (ctx, error, client, sub, sid) => delivered(client, sub, sid, error));

  server.on('request', provider.callback());

  return {
    issuer,
    requests,
    errors,
    backchannel,
    setTokenDelay(ms) {
      tokenDelayMs = ms;
    },
    /** While `refused`, the userinfo endpoint answers 401 `invalid_token` to any token. */
    refuseUserinfo(refused) {
      userinfoRefused = refused;
    },
    /** The requests recorded after `mark` (an earlier `requests.length`) matching `filter`. */
    since(mark, filter = {}) {
      return requests
        .slice(mark)
        .filter((r) => Object.entries(filter).every(([k, v]) => r[k] === v));
    },
    close() {
      diagnosticsChannel.unsubscribe('http.client.response.finish', onResponse);
      return new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}
