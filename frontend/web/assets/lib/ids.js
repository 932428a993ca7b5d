// Client-generated ids. crypto.getRandomValues works on plain http pages,
// unlike crypto.randomUUID, which needs a secure context.

/** A random 128-bit id as 32 hex digits, used as a send's client_msg_id. */
export function newClientMsgId(rng = globalThis.crypto) {
  const b = new Uint8Array(16);
  rng.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
