// @token-handler/client: the browser side of the token handler (lambda-token-handler).
//
// Signs in and out through the token handler, reads the session, and gets the provider access
// token from `POST /auth/refresh`: cached in memory (never in storage) until shortly before it
// expires, one refresh in flight per tab however many callers ask at once, one forced refresh
// and one retry when an API answers 401. No dependencies, no build step. Never logs a token.

/** Seconds before `expires_in` runs out at which a cached token stops being used (at most). */
const DEFAULT_EXPIRY_MARGIN = 30;

/** A refused call to the token handler: `status` (HTTP) and `code` (the contract's `error`). */
export class AuthError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} [description]
   */
  constructor(status, code, description) {
    super(description ? `${code}: ${description}` : `${code} (HTTP ${status})`);
    this.name = 'AuthError';
    this.status = status;
    this.code = code;
    this.description = description;
  }
}

/** The JSON body of `response`, or `null` when it has none or is not JSON. */
async function readJson(response) {
  try {
    return await response.json();
  } catch {
    return null;
  }
}

/** An AuthError for a non-2xx answer of the token handler. */
async function errorOf(response) {
  const body = await readJson(response);
  const code = body && typeof body.error === 'string' ? body.error : `http_${response.status}`;
  const description = body && typeof body.error_description === 'string' ? body.error_description : undefined;
  return new AuthError(response.status, code, description);
}

function currentOrigin() {
  return typeof location !== 'undefined' && location.origin && location.origin !== 'null'
    ? location.origin
    : undefined;
}

/**
 * A client of the token handler at `baseUrl` ("" when it serves the page's own origin).
 *
 * @param {object} [options]
 * @param {string} [options.baseUrl] the token handler's origin (and path prefix), no trailing slash
 * @param {typeof fetch} [options.fetch] the fetch to use (default: the global one)
 * @param {number} [options.expiryMargin] seconds before expiry at which a cached token is
 *   replaced (default 30; at most half the token's lifetime)
 */
export function createClient({
  baseUrl = '',
  fetch: fetchImpl = globalThis.fetch,
  expiryMargin = DEFAULT_EXPIRY_MARGIN,
} = {}) {
  if (typeof fetchImpl !== 'function') throw new TypeError('createClient: no fetch available');
  const base = String(baseUrl).replace(/\/+$/, '');
  // Called as a plain function: a browser's fetch refuses any `this` but the window.
  const send = (input, init) => fetchImpl(input, init);

  /** Origins that get the session cookie and `X-Requested-With`: the page's and the handler's. */
  const ownOrigins = new Set();
  {
    const page = currentOrigin();
    if (page) ownOrigins.add(page);
    try {
      ownOrigins.add(new URL(base || '/', page ?? undefined).origin);
    } catch {
      // a relative baseUrl outside a page: only absolute URLs to it are recognised
    }
  }
  function isOwn(url) {
    try {
      return ownOrigins.has(new URL(url, currentOrigin()).origin);
    } catch {
      return false;
    }
  }

  /** The last good answer of /auth/refresh: `{access_token, token_type, scope, expiresAt, staleAt}`. */
  let cached = null;
  /** The refresh in flight: `{promise, force}`. */
  let inflight = null;
  /** Bumped by logout, so that a refresh answering afterwards is not cached. */
  let generation = 0;

  const fresh = (entry) => entry !== null && Date.now() < entry.staleAt;

  function view(entry) {
    return {
      access_token: entry.access_token,
      token_type: entry.token_type,
      expires_in: Math.max(0, Math.floor((entry.expiresAt - Date.now()) / 1000)),
      scope: entry.scope,
    };
  }

  async function postRefresh(force, gen) {
    const headers = { 'X-Requested-With': 'fetch' };
    if (force) headers['Content-Type'] = 'application/json';
    let response;
    try {
      response = await send(`${base}/auth/refresh`, {
        method: 'POST',
        credentials: 'include',
        headers,
        body: force ? JSON.stringify({ force: true }) : undefined,
      });
    } catch (e) {
      if (gen === generation) cached = null;
      throw e;
    }
    if (!response.ok) {
      if (gen === generation) cached = null;
      throw await errorOf(response);
    }
    const body = await readJson(response);
    if (!body || typeof body.access_token !== 'string' || !body.access_token) {
      if (gen === generation) cached = null;
      throw new AuthError(response.status, 'invalid_response', 'the refresh answer holds no access token');
    }
    const now = Date.now();
    const lifetime = Number.isFinite(body.expires_in) && body.expires_in > 0 ? body.expires_in : 0;
    const margin = Math.min(expiryMargin, lifetime / 2);
    const entry = {
      access_token: body.access_token,
      token_type: body.token_type ?? 'Bearer',
      scope: body.scope,
      expiresAt: now + lifetime * 1000,
      staleAt: now + (lifetime - margin) * 1000,
    };
    if (gen === generation) cached = entry;
    return entry;
  }

  /**
   * One POST /auth/refresh for every caller: a call joins the one in flight, except that a
   * forced call does not join an unforced one (its answer may be the token being replaced):
   * it queues behind it, and later callers, forced or not, join the queued forced one.
   */
  function refresh(force) {
    if (inflight && (inflight.force || !force)) return inflight.promise;
    const previous = inflight?.promise;
    const gen = generation;
    const entry = { force };
    entry.promise = (async () => {
      if (previous) await previous.catch(() => {});
      return postRefresh(force, gen);
    })().finally(() => {
      if (inflight === entry) inflight = null;
    });
    inflight = entry;
    return entry.promise;
  }

  /** A token other than `rejected` (which an API refused): at most one forced refresh per tab. */
  async function tokenOtherThan(rejected) {
    for (;;) {
      if (fresh(cached) && cached.access_token !== rejected) return cached;
      if (!inflight) return refresh(true);
      // A forced refresh in flight started after `rejected` was obtained: it brings a newer one.
      if (inflight.force) return inflight.promise;
      const answer = await inflight.promise;
      if (answer.access_token !== rejected) return answer;
    }
  }

  async function getToken({ force = false } = {}) {
    if (!force && fresh(cached)) return view(cached);
    return view(await refresh(force));
  }

  async function getAccessToken(options) {
    return (await getToken(options)).access_token;
  }

  /** A ReadableStream body is sent once; any other body can be sent again. */
  function canResend(init) {
    return !(typeof ReadableStream !== 'undefined' && init.body instanceof ReadableStream);
  }

  /**
   * @param {RequestInfo | URL} input
   * @param {RequestInit & { token?: boolean }} [init]
   */
  async function clientFetch(input, init = {}) {
    const { token: withToken = true, ...rest } = init ?? {};
    const isRequest = typeof Request !== 'undefined' && input instanceof Request;
    const url = isRequest ? input.url : String(input);
    const own = isOwn(url);

    const build = (bearer) => {
      const headers = new Headers(rest.headers ?? (isRequest ? input.headers : undefined));
      if (own && !headers.has('X-Requested-With')) headers.set('X-Requested-With', 'fetch');
      if (bearer) headers.set('Authorization', `Bearer ${bearer}`);
      /** @type {RequestInit} */
      const options = { ...rest, headers };
      if (own && rest.credentials === undefined) options.credentials = 'include';
      return options;
    };

    if (withToken === false) return send(input, build(null));

    const resendable = canResend(rest);
    const second = resendable && isRequest ? input.clone() : input;
    const first = await getAccessToken();
    const response = await send(input, build(first));
    if (response.status !== 401 || !resendable) return response;

    try {
      await response.body?.cancel();
    } catch {
      // already read or locked: nothing to free
    }
    const renewed = await tokenOtherThan(first);
    return send(second, build(renewed.access_token));
  }

  function loginUrl(provider, returnTo) {
    const query = returnTo === undefined ? '' : `?return_to=${encodeURIComponent(returnTo)}`;
    return `${base}/auth/${encodeURIComponent(provider)}/login${query}`;
  }

  return {
    /**
     * fetch with the provider access token as `Authorization: Bearer`; one forced refresh and
     * one retry on a 401. `{token: false}`: no token, no retry (the proxy route `/api/...`).
     */
    fetch: clientFetch,
    getAccessToken,
    getToken,
    loginUrl,
    login(provider, returnTo) {
      location.assign(loginUrl(provider, returnTo));
    },
    async logout() {
      generation += 1;
      cached = null;
      inflight = null;
      try {
        const response = await send(`${base}/auth/logout`, {
          method: 'POST',
          credentials: 'include',
          headers: { 'X-Requested-With': 'fetch' },
        });
        if (!response.ok) throw await errorOf(response);
        return (await readJson(response)) ?? { logged_out: true };
      } finally {
        // A refresh that was in flight must not bring the token back.
        generation += 1;
        cached = null;
        inflight = null;
      }
    },
    async session() {
      const response = await send(`${base}/auth/session`, { credentials: 'include' });
      if (response.status === 401) return null;
      if (!response.ok) throw await errorOf(response);
      return readJson(response);
    },
  };
}
