// HTTP client for the gateway: base URL from /config.json, bearer token,
// JSON errors as ApiError, and the session: the access token lives only in
// memory, the refresh token in localStorage; the access token is renewed
// shortly before it expires and once more on a 401 before giving up.

import { Emitter } from './state.js';
import { expiresSoon, identityFromToken, refreshDelay } from './lib/jwt.js';
import { wsUrlList } from './lib/wspick.js';

/** An error the API answered (or a network failure, status 0). */
export class ApiError extends Error {
  constructor(status, code, message, retryAfter = 0) {
    super(message || code);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }

  /** Whether retrying later may work (network, 5xx, 429). */
  get transient() {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

/** The most user ids one `?user_ids=` query of the online list may name. */
export const ONLINE_IDS_MAX = 200;

/**
 * The path and query of GET /api/chat/rooms/:id/online: a page of who is
 * online, by username ({limit, cursor} → {online, next_cursor, count}), or,
 * with userIds (at most ONLINE_IDS_MAX), which of those users are online
 * ({online, count}). For api.get(...onlineRequest(...)).
 */
export function onlineRequest(roomId, { limit, cursor, userIds } = {}) {
  const path = `/api/chat/rooms/${Number(roomId)}/online`;
  if (userIds) {
    const ids = [...new Set(userIds.map(Number).filter((n) => Number.isSafeInteger(n) && n > 0))];
    if (ids.length === 0 || ids.length > ONLINE_IDS_MAX) throw new RangeError(`user_ids: 1 to ${ONLINE_IDS_MAX} ids, got ${ids.length}`);
    return [path, { user_ids: ids.join(',') }];
  }
  return [path, { limit, cursor }];
}

/** The localStorage key of the refresh token. */
export const REFRESH_KEY = 'parley.refresh_token';
const REQUEST_TIMEOUT_MS = 15_000;

/**
 * Loads /config.json from the page's origin. chatWsUrls lists every chat
 * replica's WebSocket URL (chat_ws_urls, or chat_ws_url alone from an older
 * server); chatWsUrl is the first.
 */
export async function loadConfig(fetchFn = globalThis.fetch.bind(globalThis)) {
  const res = await fetchFn('/config.json', { cache: 'no-store' });
  if (!res.ok) throw new ApiError(res.status, 'config_unavailable', 'Could not load the app configuration.');
  const cfg = await res.json();
  const chatWsUrls = wsUrlList(cfg.chat_ws_urls, cfg.chat_ws_url);
  return { apiBaseUrl: String(cfg.api_base_url).replace(/\/+$/, ''), chatWsUrl: chatWsUrls[0] ?? String(cfg.chat_ws_url), chatWsUrls };
}

/**
 * The API client. Events: 'session' (user) after login or refresh, 'token'
 * (access token) whenever it changes, 'logout' ({reason}) when the session
 * ends, 'service' ({down, status, message}) when reachability changes.
 */
export class Api extends Emitter {
  constructor({
    baseUrl,
    fetch = globalThis.fetch?.bind(globalThis),
    storage = globalThis.localStorage,
    now = () => Date.now(),
    setTimer = (fn, ms) => setTimeout(fn, ms),
    clearTimer = (id) => clearTimeout(id),
    locks = globalThis.navigator?.locks,
  }) {
    super();
    this.baseUrl = String(baseUrl).replace(/\/+$/, '');
    this._fetch = fetch;
    this.storage = storage;
    this.now = now;
    this.setTimer = setTimer;
    this.clearTimer = clearTimer;
    this.locks = locks;
    this._token = null;
    this._user = null;
    this._refreshing = null;
    this._timer = null;
    this._serviceDown = false;
  }

  /** The access token, or null. */
  get token() {
    return this._token;
  }

  /** The signed-in user ({id, username, role, ...}), or null. */
  get user() {
    return this._user;
  }

  /** Whether a refresh token is stored (a session may be restored). */
  hasStoredSession() {
    return !!this.storage?.getItem(REFRESH_KEY);
  }

  /** The URL of a user's avatar; version busts caches after an upload. */
  avatarUrl(userId, version) {
    const v = version ? `?v=${encodeURIComponent(version)}` : '';
    return `${this.baseUrl}/api/users/avatars/${encodeURIComponent(userId)}${v}`;
  }

  // ---- session ------------------------------------------------------------

  async login(username, password) {
    const s = await this.request('POST', '/api/auth/login', { body: { username, password }, auth: false });
    this._startSession(s);
    return this._user;
  }

  async register({ username, password, email }) {
    const body = { username, password };
    if (email) body.email = email;
    const s = await this.request('POST', '/api/auth/register', { body, auth: false });
    this._startSession(s);
    return this._user;
  }

  /** Restores a session from the stored refresh token; false if there is none or it is no longer valid. */
  async restore() {
    if (!this.hasStoredSession()) return false;
    try {
      await this.refresh();
      return true;
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.status === 403)) return false;
      throw err;
    }
  }

  /**
   * Renews the access token with the refresh token. One refresh runs at a
   * time per tab, and across tabs under a Web Lock, always with the newest
   * stored refresh token (refresh tokens rotate: reusing an old one would
   * revoke the session).
   */
  refresh() {
    if (!this._refreshing) {
      const run = () => this._refreshOnce();
      const p = this.locks?.request ? this.locks.request('parley-refresh', run) : run();
      this._refreshing = p.finally(() => {
        this._refreshing = null;
      });
    }
    return this._refreshing;
  }

  async _refreshOnce(tried = null) {
    const rt = this.storage?.getItem(REFRESH_KEY);
    if (!rt) {
      this._endSession('signed_out');
      throw new ApiError(401, 'no_session', 'Please sign in.');
    }
    let s;
    try {
      s = await this.request('POST', '/api/auth/refresh', { body: { refresh_token: rt }, auth: false });
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
        // Without Web Locks another tab may have rotated the token while
        // this request was in flight: try once with the one it stored.
        const stored = this.storage?.getItem(REFRESH_KEY);
        if (stored && stored !== rt && tried == null) return this._refreshOnce(rt);
        this._endSession(err.code);
      } else {
        this._scheduleRefresh(10_000);
      }
      throw err;
    }
    this._startSession(s);
    return this._user;
  }

  /** Ends the session on the server (best effort) and here. */
  async logout() {
    const rt = this.storage?.getItem(REFRESH_KEY);
    if (rt) {
      try {
        // Public route: it takes the refresh token, so it works even with an
        // expired access token.
        await this.request('POST', '/api/auth/logout', { body: { refresh_token: rt }, auth: false });
      } catch {
        // The session ends locally anyway; the refresh token expires.
      }
    }
    this._endSession('logout');
  }

  /** Forgets the session without telling the server (another tab logged out). */
  forget(reason = 'signed_out') {
    this._endSession(reason);
  }

  _startSession(s) {
    if (!s?.access_token) throw new ApiError(500, 'bad_session', 'The server answered without a token.');
    this._token = s.access_token;
    if (s.refresh_token) this.storage?.setItem(REFRESH_KEY, s.refresh_token);
    const claims = identityFromToken(s.access_token);
    this._user = { ...(claims ?? {}), ...(s.user ?? {}) };
    if (this._user.id != null) this._user.id = Number(this._user.id);
    this._scheduleRefresh(refreshDelay(s.access_token, this.now(), s.expires_in));
    this.emit('token', this._token);
    this.emit('session', this._user);
  }

  _scheduleRefresh(delay) {
    if (this._timer != null) this.clearTimer(this._timer);
    this._timer = null;
    if (delay == null) return;
    this._timer = this.setTimer(() => {
      this._timer = null;
      this.refresh().catch(() => {});
    }, delay);
  }

  _endSession(reason) {
    if (this._timer != null) this.clearTimer(this._timer);
    this._timer = null;
    const had = this._token != null || this.hasStoredSession();
    this._token = null;
    this._user = null;
    this.storage?.removeItem(REFRESH_KEY);
    if (had) this.emit('logout', { reason });
  }

  /** Updates the cached user (after a profile change). */
  setUser(patch) {
    this._user = { ...this._user, ...patch };
  }

  // ---- requests -----------------------------------------------------------

  get(path, query) {
    return this.request('GET', path, { query });
  }
  /** GET /api/chat/rooms/:id/online (see onlineRequest). */
  online(roomId, opts) {
    return this.get(...onlineRequest(roomId, opts));
  }
  post(path, body) {
    return this.request('POST', path, { body });
  }
  put(path, body) {
    return this.request('PUT', path, { body });
  }
  patch(path, body) {
    return this.request('PATCH', path, { body });
  }
  del(path) {
    return this.request('DELETE', path);
  }

  /**
   * Sends a request and returns the parsed JSON (null for 204). auth adds
   * the bearer token; on a 401 the token is refreshed and the request sent
   * once more. Throws ApiError.
   */
  async request(method, path, { body, query, auth = true, retry = true } = {}) {
    if (auth && this._token && expiresSoon(this._token, this.now()) && this.hasStoredSession()) {
      // The timer may not have fired (a sleeping laptop, a throttled tab).
      await this.refresh().catch(() => {});
    }
    const res = await this._send(method, path, body, query, auth);
    if (res.status === 401 && auth && retry && this.hasStoredSession()) {
      try {
        await this.refresh();
      } catch (err) {
        throw err instanceof ApiError ? err : new ApiError(401, 'unauthenticated', 'Please sign in again.');
      }
      return this.request(method, path, { body, query, auth, retry: false });
    }
    return this._parse(res, path);
  }

  async _send(method, path, body, query, auth) {
    let url = this.baseUrl + path;
    if (query) {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) if (v != null && v !== '') q.set(k, String(v));
      const qs = q.toString();
      if (qs) url += (url.includes('?') ? '&' : '?') + qs;
    }
    const headers = { Accept: 'application/json' };
    let payload;
    if (body instanceof FormData) {
      payload = body;
    } else if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    if (auth && this._token) headers.Authorization = `Bearer ${this._token}`;
    try {
      return await this._fetch(url, {
        method,
        headers,
        body: payload,
        credentials: 'omit',
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      const e = new ApiError(0, 'network_error', 'Cannot reach the server. Check your connection.');
      e.cause = err;
      this._setService(true, 0, e.message, path);
      throw e;
    }
  }

  async _parse(res, path) {
    if (res.ok) {
      this._setService(false, res.status);
      if (res.status === 204) return null;
      const text = await res.text();
      return text ? JSON.parse(text) : null;
    }
    let code = `http_${res.status}`;
    let message = res.statusText || `Request failed (${res.status})`;
    try {
      const data = await res.json();
      if (data?.error) {
        code = data.error.code || code;
        message = data.error.message || message;
      }
    } catch {
      // not JSON (a proxy's error page)
    }
    const retryAfter = Number(res.headers.get('Retry-After')) || 0;
    if (res.status === 502 || res.status === 503 || res.status === 504) this._setService(true, res.status, message, path);
    else this._setService(false, res.status);
    throw new ApiError(res.status, code, message, retryAfter);
  }

  // Reports reachability; service names the gateway's upstream that failed
  // ("auth", "user", "chat") when the path tells, so recovery can be
  // checked against the gateway's per-service health.
  _setService(down, status, message = '', path = '') {
    if (down === this._serviceDown && !down) return;
    this._serviceDown = down;
    const service = /^\/api\/(auth|users|chat)\//.exec(path)?.[1]?.replace('users', 'user') ?? null;
    this.emit('service', { down, status, message, service });
  }
}
