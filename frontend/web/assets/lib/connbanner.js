// What the one connection banner says. Two things can be wrong at once: a
// REST call found a service down (service: {down, status, detail,
// message}) and the WebSocket is not open (conn: connectionLabel's state).
// Both are the same outage to the user, so they share one banner with one
// Retry that retries both; the REST side, when down, names the culprit.
// A socket that a replica asked to move (1012 rebalance) is no outage: the
// indicator says so quietly and no banner shows while it reconnects.

/**
 * Maps the socket status (ChatSocket's onStatus) to what the indicator
 * shows: {state, label}, state one of connected, connecting, reconnecting,
 * moving, offline.
 */
export function connectionLabel(conn, everConnected) {
  switch (conn?.status) {
    case 'open':
      return { state: 'connected', label: 'Connected' };
    case 'offline':
      return { state: 'offline', label: 'Offline' };
    case 'waiting':
    case 'connecting':
      if (conn.moving) return { state: 'moving', label: 'Switching server…' };
      return everConnected || conn.attempt > 0 ? { state: 'reconnecting', label: 'Reconnecting…' } : { state: 'connecting', label: 'Connecting…' };
    default:
      return { state: 'connecting', label: 'Connecting…' };
  }
}

/**
 * connState 'moving' (a rebalance) gets no banner of its own.
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
