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
