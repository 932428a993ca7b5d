// Reconnect delays: exponential backoff with "equal jitter", so a thousand
// clients dropped by one restart do not come back in the same millisecond,
// and none waits less than half its step.

/**
 * Delay before reconnect attempt number attempt (0 for the first retry).
 * random is injectable for tests and returns a number in [0, 1).
 */
export function backoffDelay(attempt, { base = 500, max = 30_000, random = Math.random } = {}) {
  const n = Math.max(0, Math.min(30, Math.floor(attempt)));
  const step = Math.min(max, base * 2 ** n);
  return Math.round(step / 2 + random() * (step / 2));
}

/**
 * Delay after a server asked clients to go away (1012 restart, 1013 too
 * slow): short, but spread over a window so replicas are not stampeded.
 */
export function restartDelay(random = Math.random, windowMs = 1_000) {
  return Math.round(100 + random() * windowMs);
}

/** The longest retry hint honoured (a larger one is taken as this). */
export const MAX_RETRY_AFTER_MS = 5 * 60_000;

/**
 * The retry hint of a replica that shed the connection under a storm:
 * close 1013 with the reason {"code":"overloaded","retry_after_ms":N}.
 * Returns N (at most MAX_RETRY_AFTER_MS), or null for any other reason
 * (the "too slow" 1013, or one that does not parse).
 */
export function overloadedRetryAfter(reason) {
  return retryHint(reason, 'overloaded');
}

/**
 * The retry hint of a replica that asked the connection to move to a less
 * loaded one (close 1012 with {"code":"rebalance","retry_after_ms":N}, N
 * already jittered by the server). Returns N (at most MAX_RETRY_AFTER_MS),
 * or null for any other reason (a plain restart).
 */
export function rebalanceRetryAfter(reason) {
  return retryHint(reason, 'rebalance');
}

/** N of a JSON close reason {"code": code, "retry_after_ms": N}, or null. */
function retryHint(reason, code) {
  if (typeof reason !== 'string' || reason[0] !== '{') return null;
  let r;
  try {
    r = JSON.parse(reason);
  } catch {
    return null;
  }
  if (!r || r.code !== code) return null;
  const ms = Number(r.retry_after_ms);
  if (!Number.isFinite(ms) || ms < 0) return null;
  return Math.min(MAX_RETRY_AFTER_MS, Math.round(ms));
}

/**
 * Delay after an overloaded close: the hint, plus up to half of it again so
 * the clients shed together do not all come back at its end, and never less
 * than the attempt's ordinary backoff (a replica that keeps shedding is
 * asked less and less often).
 */
export function overloadDelay(retryAfterMs, attempt, random = Math.random) {
  const hinted = Math.round(retryAfterMs + random() * (retryAfterMs / 2));
  return Math.max(hinted, backoffDelay(attempt, { random }));
}
