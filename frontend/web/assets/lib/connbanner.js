// What the one connection banner says. Two things can be wrong at once: a
// REST call found a service down (service: {down, status, detail,
// message}) and the WebSocket is not open (conn: connectionLabel's state).
// Both are the same outage to the user, so they share one banner with one
// Retry that retries both; the REST side, when down, names the culprit.

/**
 * Returns null (no banner) or {state, title, text, retry, delayed}: state
 * is 'service', 'reconnecting' or 'offline'; retry whether a Retry button
 * makes sense (not while the device is offline); delayed whether the
 * banner should wait a moment before showing (a socket blip that a quick
 * reconnect ends should not flash).
 */
export function connectionBanner(service, connState) {
  const queued = 'Messages you send will be delivered once connected.';
  if (connState === 'offline') {
    return { state: 'offline', title: 'You are offline.', text: 'Messages you send will go out when the network is back.', retry: false, delayed: false };
  }
  if (service?.down) {
    const title = service.status === 0 ? 'Parley cannot reach the server.' : `A Parley service is unavailable (${service.status}).`;
    const detail = service.detail || service.message || '';
    return { state: 'service', title, text: [detail, 'Retrying automatically…', queued].filter(Boolean).join(' '), retry: true, delayed: false };
  }
  if (connState === 'reconnecting') {
    return { state: 'reconnecting', title: 'Reconnecting to chat…', text: queued, retry: true, delayed: true };
  }
  return null;
}
