// Incoming webhooks, the parts without DOM: a webhook's full URL and the
// curl command that posts to it.

/**
 * The absolute URL of a webhook. chat-service answers an absolute URL when
 * it knows the gateway's public address (API_BASE_URL), else the gateway
 * path (/api/chat/hooks/…), which belongs under the API's base URL — the
 * page's origin when the SPA talks to a gateway on its own origin.
 */
export function webhookUrl(url, apiBase, origin) {
  if (/^https?:\/\//i.test(url)) return url;
  return `${String(apiBase || origin).replace(/\/+$/, '')}${url}`;
}

/** Quotes s for a POSIX shell (single quotes). */
export function shellQuote(s) {
  return `'${String(s).replace(/'/g, `'\\''`)}'`;
}

/** A curl command that posts text to the webhook at url. */
export function curlExample(url, text = 'Hello from curl') {
  const body = JSON.stringify({ text });
  return `curl -X POST -H 'Content-Type: application/json' \\\n  -d ${shellQuote(body)} \\\n  ${shellQuote(url)}`;
}

/** Whether a message was posted by a webhook (shown with an APP tag). */
export function isAppMessage(msg) {
  return !!msg?.webhook;
}
