// Access-token helpers. The payload is read only to learn when the token
// expires and who it speaks for; the servers verify the signature.

/** Decodes a JWT's payload, or returns null when it is not a JWT. */
export function decodeJwt(token) {
  if (typeof token !== 'string') return null;
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  try {
    let b64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    b64 += '='.repeat((4 - (b64.length % 4)) % 4);
    const bin = atob(b64);
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    const payload = JSON.parse(new TextDecoder().decode(bytes));
    return payload && typeof payload === 'object' ? payload : null;
  } catch {
    return null;
  }
}

/** The identity a token's claims name: {id, username, role}, or null. */
export function identityFromToken(token) {
  const p = decodeJwt(token);
  if (!p || p.sub == null) return null;
  const id = Number(p.sub);
  if (!Number.isSafeInteger(id)) return null;
  return { id, username: String(p.name ?? ''), role: p.role === 'admin' ? 'admin' : 'user' };
}

/**
 * How long to wait before refreshing a token: a lead of a fifth of its
 * lifetime, at least 5 s and at most 60 s, before it expires. Falls back to
 * expiresInSec when the token carries no exp. Never negative.
 */
export function refreshDelay(token, nowMs, expiresInSec) {
  const p = decodeJwt(token);
  let expMs;
  let lifetimeMs;
  if (p && typeof p.exp === 'number') {
    expMs = p.exp * 1000;
    lifetimeMs = typeof p.iat === 'number' ? (p.exp - p.iat) * 1000 : expMs - nowMs;
  } else if (typeof expiresInSec === 'number' && expiresInSec > 0) {
    expMs = nowMs + expiresInSec * 1000;
    lifetimeMs = expiresInSec * 1000;
  } else {
    return null;
  }
  const lead = Math.min(60_000, Math.max(5_000, lifetimeMs / 5));
  return Math.max(0, Math.round(expMs - lead - nowMs));
}

/** Whether a token expires within marginMs of nowMs (or cannot be read). */
export function expiresSoon(token, nowMs, marginMs = 10_000) {
  const p = decodeJwt(token);
  if (!p || typeof p.exp !== 'number') return true;
  return p.exp * 1000 - nowMs <= marginMs;
}
