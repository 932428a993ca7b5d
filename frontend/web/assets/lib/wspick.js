// Which chat-service replica the live connection uses. CHAT_WS_URL may list
// several WebSocket URLs (docs/ARCHITECTURE.md, Contract: Frontend): each
// page picks one at random, so browsers spread over the replicas, and when
// a connection fails to open or drops, the next attempt goes to the next
// URL in the list (round robin from the pick). Once connected, it stays.

/**
 * The URLs to use from /config.json: chat_ws_urls when it lists any,
 * else chat_ws_url alone (a server from before the list). Entries that are
 * not ws(s) URLs are skipped; duplicates and trailing slashes are dropped.
 */
export function wsUrlList(urls, fallback) {
  const out = [];
  const add = (u) => {
    if (typeof u !== 'string') return;
    const v = u.trim().replace(/\/+$/, '');
    if (/^wss?:\/\/[^/?#\s]+/i.test(v) && !out.includes(v)) out.push(v);
  };
  if (Array.isArray(urls)) urls.forEach(add);
  if (out.length === 0) add(fallback);
  if (out.length === 0 && fallback != null) out.push(String(fallback));
  return out;
}

/** A random index in [0, n); random is injectable and returns [0, 1). */
export function pickIndex(n, random = Math.random) {
  if (!(n > 1)) return 0;
  const i = Math.floor(Number(random()) * n);
  return Number.isFinite(i) ? Math.min(n - 1, Math.max(0, i)) : 0;
}

/**
 * Round robin over the URLs from a random start. url is the one to try
 * next; failed() moves on after a failure; connected() marks the current
 * one good (the count of failures in a row starts again).
 */
export class ReplicaPicker {
  constructor(urls, random = Math.random) {
    this.urls = urls.length ? [...urls] : [''];
    this.index = pickIndex(this.urls.length, random);
    this.failures = 0; // failed attempts since the last connection
  }

  /** The URL to connect to. */
  get url() {
    return this.urls[this.index];
  }

  /** Whether every URL has failed since the last connection. */
  get allFailed() {
    return this.failures >= this.urls.length;
  }

  /** The current URL failed to open or dropped: the next attempt uses the next one. */
  failed() {
    this.failures++;
    this.index = (this.index + 1) % this.urls.length;
    return this.url;
  }

  /** The current URL is connected: stay on it. */
  connected() {
    this.failures = 0;
  }
}
