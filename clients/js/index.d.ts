// Types of @token-handler/client (hand-written; the module is plain JavaScript).

/** A refused call to the token handler. */
export declare class AuthError extends Error {
  constructor(status: number, code: string, description?: string);
  readonly name: 'AuthError';
  /** The HTTP status (401, 403, 409, 503, …). */
  readonly status: number;
  /**
   * The contract's `error` code: `unauthenticated`, `reauth_required`, `csrf_rejected`,
   * `no_provider_token`, `provider_unavailable`, `store_unavailable`, …; `http_<status>` when the
   * answer carried none, `invalid_response` for a 200 without an access token.
   */
  readonly code: string;
  /** The handler's `error_description`, when it sent one. */
  readonly description?: string;
}

/** The answer of `POST /auth/refresh`; `expires_in` counts from now. */
export interface TokenResponse {
  access_token: string;
  token_type: string;
  expires_in: number;
  scope?: string;
}

/** The answer of `GET /auth/session`. */
export interface Session {
  provider: string;
  subject: string;
  profile: { name?: string; email?: string; picture?: string };
  access_token_expires_at: number;
  session_expires_at: number;
}

/** The answer of `POST /auth/logout`. */
export interface LogoutResponse {
  logged_out: true;
  /** The provider's RP-initiated logout URL, for the app to send the user to if it wants. */
  end_session_url?: string;
}

export interface ClientOptions {
  /** The token handler's origin (and path prefix), without a trailing slash. Default "" (same origin). */
  baseUrl?: string;
  /** The fetch to use. Default: `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** Seconds before `expires_in` runs out at which a cached token is replaced (default 30, at most half its lifetime). */
  expiryMargin?: number;
}

export interface ClientRequestInit extends RequestInit {
  /**
   * `false`: send no access token, do not refresh, do not retry (for the proxy route
   * `/api/{api}/...` and routes behind the session authorizer, which use the session cookie).
   * Default `true`.
   */
  token?: boolean;
}

export interface TokenHandlerClient {
  /**
   * `fetch` with `Authorization: Bearer <provider access token>`. On a 401 it forces one
   * refresh and retries once; a second 401 is returned as is. Requests to the page's or the
   * token handler's origin also get `credentials: "include"` and `X-Requested-With: fetch`.
   * Rejects with `AuthError` when no token can be had (for example `unauthenticated`).
   */
  fetch(input: RequestInfo | URL, init?: ClientRequestInit): Promise<Response>;
  /** The provider access token: cached in memory, or from one shared `POST /auth/refresh`. */
  getAccessToken(options?: { force?: boolean }): Promise<string>;
  /** As `getAccessToken`, with the whole refresh answer. */
  getToken(options?: { force?: boolean }): Promise<TokenResponse>;
  /** `{baseUrl}/auth/{provider}/login?return_to=…`. */
  loginUrl(provider: string, returnTo?: string): string;
  /** Sends the browser to `loginUrl(provider, returnTo)`. */
  login(provider: string, returnTo?: string): void;
  /** `POST /auth/logout`; clears the cached token. Does not navigate. Rejects with `AuthError` on a non-2xx answer. */
  logout(): Promise<LogoutResponse>;
  /** `GET /auth/session`: the session, or `null` when there is none (401). */
  session(): Promise<Session | null>;
}

export declare function createClient(options?: ClientOptions): TokenHandlerClient;
