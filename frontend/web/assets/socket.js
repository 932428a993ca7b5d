// The live connection to chat-service. It authenticates with the first
// frame, (re)subscribes every room with the last seq it holds so the server
// replays what was missed, keeps the connection alive with pings, and
// reconnects with exponential backoff and jitter. With several chat
// replicas it starts on a random one and moves to the next after each
// failed or dropped connection (lib/wspick.js). What the frames mean is the
// ChatClient's business (chat.js); this module only moves them.

import { backoffDelay, overloadDelay, overloadedRetryAfter, rebalanceRetryAfter, restartDelay } from './lib/backoff.js';
import { ReplicaPicker } from './lib/wspick.js';

/** Connection states reported through onStatus. */
export const Status = Object.freeze({
  IDLE: 'idle',
  CONNECTING: 'connecting', // socket opening or authenticating
  OPEN: 'open', // authenticated (ready received)
  WAITING: 'waiting', // closed; a reconnect is scheduled
  OFFLINE: 'offline', // the browser says there is no network
  STOPPED: 'stopped',
});

/** Close codes the server uses (docs/ARCHITECTURE.md, Contract: WebSocket). */
export const Close = Object.freeze({
  NORMAL: 1000,
  RESTART: 1012, // restart, or (reason {"code":"rebalance","retry_after_ms"}) asked to move to a less loaded replica
  TRY_AGAIN: 1013, // too slow, or (reason {"code":"overloaded","retry_after_ms"}) shed under a storm
  UNAUTHENTICATED: 4401,
  FORBIDDEN: 4403,
});

/** A self-healing WebSocket client. */
export class ChatSocket {
  /**
   * urls: the ws(s) URLs, one per chat replica (or url: a single one); the
   * first connection goes to a random one. getToken() → the current access
   * token. refresh()
   * → a promise of a renewed token (rejects when the session is over).
   * afterSeq(roomId) → the seq to resume a room after (or null).
   * onEvent(frame) gets every server frame, plus {type:'closed', code,
   * wasReady, retryAfter, moving} (retryAfter: the overloaded or rebalance
   * hint in ms, or null; moving: the server asked this open connection to
   * move to a less loaded replica).
   * onStatus({status, attempt, retryAt, code, replica, url, moving})
   * reports the state; replica is the index in urls of the URL in use (or
   * next tried); moving is true from a rebalance close until the next
   * ready or failure: an expected move, not an outage.
   */
  constructor({
    url,
    urls = [url],
    WebSocket: WS = globalThis.WebSocket,
    getToken,
    refresh,
    afterSeq = () => null,
    onEvent = () => {},
    onStatus = () => {},
    now = () => Date.now(),
    setTimer = (fn, ms) => setTimeout(fn, ms),
    clearTimer = (id) => clearTimeout(id),
    random = Math.random,
    pingIntervalMs = 25_000,
    pongTimeoutMs = 10_000,
    authTimeoutMs = 10_000,
  }) {
    Object.assign(this, { WS, getToken, refresh, afterSeq, onEvent, onStatus, now, setTimer, clearTimer, random });
    Object.assign(this, { pingIntervalMs, pongTimeoutMs, authTimeoutMs });
    this.rooms = new Set();
    this.ws = null;
    this.ready = false;
    this.status = Status.IDLE;
    this.attempt = 0; // failed attempts since the last ready
    this.authFailures = 0;
    this.offline = false;
    this.stopped = true;
    this.timers = { reconnect: null, auth: null, ping: null, pong: null };
    this.lastCode = null;
    this.moving = false; // asked by the server to reconnect elsewhere
    this.replicas = new ReplicaPicker(urls.filter((u) => typeof u === 'string' && u !== ''), random);
  }

  /** The URL of the replica in use, or the one the next attempt goes to. */
  get url() {
    return this.replicas.url;
  }

  /** The index of that URL in urls. */
  get replica() {
    return this.replicas.index;
  }

  /** Starts connecting (idempotent). */
  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this._connect();
  }

  /** Closes for good (logout). */
  stop() {
    this.stopped = true;
    this._clearTimers();
    const ws = this.ws;
    this.ws = null;
    this.ready = false;
    this.moving = false;
    if (ws) {
      detach(ws);
      try {
        ws.close(Close.NORMAL, 'bye');
      } catch {
        // already closed
      }
    }
    this._setStatus(Status.STOPPED);
  }

  /** Adds a room to the subscriptions (sent at once when connected). */
  subscribe(roomId) {
    const id = Number(roomId);
    if (this.rooms.has(id)) return;
    this.rooms.add(id);
    if (this.ready) this._subscribe(id);
  }

  /** Removes a room from the subscriptions. */
  unsubscribe(roomId) {
    const id = Number(roomId);
    if (!this.rooms.delete(id)) return;
    if (this.ready) this._write({ type: 'unsubscribe', room_id: id });
  }

  /** Sends a frame when authenticated; returns whether it was written. */
  send(frame) {
    if (!this.ready) return false;
    return this._write(frame);
  }

  /** Re-authenticates the open connection with a renewed token. */
  renewAuth(token) {
    if (this.ready && token) this._write({ type: 'auth', token });
  }

  /** Reconnects now if a reconnect is pending (network back, tab visible). */
  wake() {
    if (this.stopped || this.offline) return;
    if (this.status === Status.WAITING) {
      this.clearTimer(this.timers.reconnect);
      this.timers.reconnect = null;
      this._connect();
    }
  }

  /** Tells the client whether the browser has a network. */
  setOffline(offline) {
    if (this.offline === offline) return;
    this.offline = offline;
    if (this.stopped) return;
    if (offline) {
      this.moving = false; // whatever comes back comes back from an outage
      if (!this.ws) {
        this.clearTimer(this.timers.reconnect);
        this.timers.reconnect = null;
        this._setStatus(Status.OFFLINE);
      }
    } else if (!this.ws) {
      this.attempt = 0;
      this.clearTimer(this.timers.reconnect);
      this.timers.reconnect = null;
      this._connect();
    }
  }

  // ---- internals ----------------------------------------------------------

  _setStatus(status, extra = {}) {
    this.status = status;
    this.onStatus({ status, attempt: this.attempt, code: this.lastCode, replica: this.replica, url: this.url, moving: this.moving, ...extra });
  }

  _clearTimers() {
    for (const k of Object.keys(this.timers)) {
      if (this.timers[k] != null) this.clearTimer(this.timers[k]);
      this.timers[k] = null;
    }
  }

  async _connect() {
    if (this.stopped) return;
    if (this.offline) {
      this._setStatus(Status.OFFLINE);
      return;
    }
    this._setStatus(Status.CONNECTING);
    let token = this.getToken();
    if (!token) {
      try {
        await this.refresh();
        token = this.getToken();
      } catch {
        token = null;
      }
      if (this.stopped) return;
      if (!token) {
        this._scheduleReconnect(backoffDelay(this.attempt++, { random: this.random }));
        return;
      }
    }
    let ws;
    try {
      ws = new this.WS(this.url);
    } catch {
      this.replicas.failed();
      this._scheduleReconnect(backoffDelay(this.attempt++, { random: this.random }));
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this._write({ type: 'auth', token: this.getToken() ?? token });
      this.timers.auth = this.setTimer(() => this._drop(ws, 4000), this.authTimeoutMs);
    };
    ws.onmessage = (e) => this._onFrame(ws, e.data);
    ws.onclose = (e) => this._onClose(ws, e.code, e.reason);
    ws.onerror = () => {}; // a close event follows
  }

  _write(frame) {
    const ws = this.ws;
    if (!ws || ws.readyState !== 1) return false;
    try {
      ws.send(JSON.stringify(frame));
      return true;
    } catch {
      return false;
    }
  }

  _subscribe(id) {
    const frame = { type: 'subscribe', room_id: id };
    const after = this.afterSeq(id);
    if (after != null) frame.after_seq = after;
    this._write(frame);
  }

  _onFrame(ws, data) {
    if (this.ws !== ws) return;
    let ev;
    try {
      ev = JSON.parse(data);
    } catch {
      return;
    }
    if (!ev || typeof ev.type !== 'string') return;
    // Any frame proves the connection alive.
    if (this.timers.pong != null) {
      this.clearTimer(this.timers.pong);
      this.timers.pong = null;
    }
    if (ev.type === 'ready') {
      const first = !this.ready;
      this.ready = true;
      this.attempt = 0;
      this.moving = false;
      this.authFailures = 0;
      this.lastCode = null;
      this.replicas.connected();
      this.clearTimer(this.timers.auth);
      this.timers.auth = null;
      if (!first) return; // the answer to a token renewal: nothing changes
      for (const id of this.rooms) this._subscribe(id);
      this._startPing(ws);
      this._setStatus(Status.OPEN);
    }
    if (ev.type === 'pong') return;
    this.onEvent(ev);
  }

  _startPing(ws) {
    const tick = () => {
      if (this.ws !== ws) return;
      this._write({ type: 'ping' });
      if (this.timers.pong == null) this.timers.pong = this.setTimer(() => this._drop(ws, 4000), this.pongTimeoutMs);
      this.timers.ping = this.setTimer(tick, this.pingIntervalMs);
    };
    this.timers.ping = this.setTimer(tick, this.pingIntervalMs);
  }

  // Gives up on a connection that stopped answering without waiting for a
  // close handshake that may never come.
  _drop(ws, code) {
    if (this.ws !== ws) return;
    detach(ws);
    try {
      ws.close();
    } catch {
      // ignore
    }
    this._onClose(ws, code);
  }

  _onClose(ws, code, reason = '') {
    if (this.ws !== ws) return;
    this.ws = null;
    const wasReady = this.ready;
    this.ready = false;
    this.lastCode = code;
    for (const k of ['auth', 'ping', 'pong']) {
      if (this.timers[k] != null) this.clearTimer(this.timers[k]);
      this.timers[k] = null;
    }
    // A rebalance is honoured only on a connection that was open: one
    // that never got ready has no place to move from.
    const moveAfter = code === Close.RESTART && wasReady ? rebalanceRetryAfter(reason) : null;
    this.moving = moveAfter != null;
    const retryAfter = code === Close.TRY_AGAIN ? overloadedRetryAfter(reason) : moveAfter;
    this.onEvent({ type: 'closed', code, wasReady, retryAfter, moving: this.moving });
    if (this.stopped) return;
    if (this.offline) {
      this._setStatus(Status.OFFLINE);
      return;
    }
    if (code === Close.UNAUTHENTICATED || code === Close.FORBIDDEN) {
      // The token expired or was refused, or the session was signed out
      // or the account disabled: renew it, then come back at once (with
      // backoff if that keeps happening). When the session is over the
      // renewal fails and the app signs out with the server's reason.
      const n = this.authFailures++;
      // A refusal again right after a renewal may be this replica's fault
      // (keys it cannot fetch): the next attempt goes to another one.
      if (n > 0) this.replicas.failed();
      this._setStatus(Status.WAITING, { retryAt: this.now() });
      this.refresh().then(
        () => this._scheduleReconnect(n === 0 ? 0 : backoffDelay(n, { random: this.random })),
        () => this._scheduleReconnect(backoffDelay(this.attempt++, { random: this.random })),
      );
      return;
    }
    // Anything else may be the replica's fault (down, restarting, not
    // answering): the next attempt goes to the next one in the list.
    this.replicas.failed();
    if (this.moving) {
      // Asked to move so that the replicas share the sockets: no failure,
      // so no backoff step; come back after the hint, which the server
      // already spread, and resume every room after its newest seq.
      this._scheduleReconnect(moveAfter);
      return;
    }
    if (retryAfter != null) {
      // Shed by a replica under a storm: not before its hint, spread.
      this._scheduleReconnect(overloadDelay(retryAfter, this.attempt++, this.random));
      return;
    }
    if ((code === Close.RESTART || code === Close.TRY_AGAIN) && wasReady) {
      this._scheduleReconnect(restartDelay(this.random));
      return;
    }
    this._scheduleReconnect(backoffDelay(this.attempt++, { random: this.random }));
  }

  _scheduleReconnect(delay) {
    if (this.stopped) return;
    if (this.timers.reconnect != null) this.clearTimer(this.timers.reconnect);
    this._setStatus(Status.WAITING, { retryAt: this.now() + delay });
    this.timers.reconnect = this.setTimer(() => {
      this.timers.reconnect = null;
      this._connect();
    }, delay);
  }
}

function detach(ws) {
  ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
}
