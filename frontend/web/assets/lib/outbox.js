// Sends that have not been acknowledged yet. Each keeps its client_msg_id
// for its whole life, so retrying after a reconnect or a rate limit cannot
// post it twice: the server answers a repeated id with the original message.

import { newClientMsgId } from './ids.js';

/** Pending and failed sends, in the order they were written. */
export class Outbox {
  constructor({ now = () => Date.now(), newId = newClientMsgId } = {}) {
    this.now = now;
    this.newId = newId;
    this.items = new Map(); // client_msg_id → entry, insertion-ordered
  }

  /** Queues a message; the entry's state starts as 'pending'. */
  add(roomId, body) {
    const e = {
      client_msg_id: this.newId(),
      room_id: Number(roomId),
      body,
      state: 'pending',
      attempts: 0,
      created_at: new Date(this.now()).toISOString(),
      sent_at: null, // ms of the last attempt
      retry_at: null, // ms before which it must not be resent
      error: null,
    };
    this.items.set(e.client_msg_id, e);
    return e;
  }

  get(id) {
    return this.items.get(id) ?? null;
  }

  /** Records an attempt to send e over the socket. */
  markSent(id) {
    const e = this.items.get(id);
    if (!e) return;
    e.attempts++;
    e.sent_at = this.now();
    e.retry_at = null;
  }

  /**
   * Entries to (re)send now: pending ones never sent, sent longer than
   * ackTimeoutMs ago without an answer, or whose back-off has passed.
   */
  due(ackTimeoutMs = 10_000) {
    const t = this.now();
    return [...this.items.values()].filter(
      (e) =>
        e.state === 'pending' &&
        (e.retry_at == null ? e.sent_at == null || t - e.sent_at >= ackTimeoutMs : t >= e.retry_at),
    );
  }

  /** Makes every pending entry due again (after a reconnect). */
  resetAttempts() {
    for (const e of this.items.values()) {
      if (e.state === 'pending') {
        e.sent_at = null;
        e.retry_at = null;
      }
    }
  }

  /** Schedules a retry no earlier than delayMs from now (rate_limited). */
  deferRetry(id, delayMs) {
    const e = this.items.get(id);
    if (!e) return;
    e.retry_at = this.now() + delayMs;
  }

  /** Removes an acknowledged entry and returns it (null if unknown). */
  resolve(id) {
    const e = this.items.get(id) ?? null;
    this.items.delete(id);
    return e;
  }

  /** Marks an entry as failed for good (shown with a retry button). */
  fail(id, error) {
    const e = this.items.get(id);
    if (!e) return;
    e.state = 'failed';
    e.error = error;
  }

  /** Puts a failed entry back in the queue, keeping its id. */
  retry(id) {
    const e = this.items.get(id);
    if (!e) return;
    e.state = 'pending';
    e.error = null;
    e.sent_at = null;
    e.retry_at = null;
  }

  /** Drops an entry (the user discarded a failed message). */
  discard(id) {
    this.items.delete(id);
  }

  /** A room's entries in the order written. */
  forRoom(roomId) {
    const r = Number(roomId);
    return [...this.items.values()].filter((e) => e.room_id === r);
  }

  /** The soonest retry_at among pending entries, or null. */
  nextRetryAt() {
    let min = null;
    for (const e of this.items.values()) {
      if (e.state === 'pending' && e.retry_at != null && (min == null || e.retry_at < min)) min = e.retry_at;
    }
    return min;
  }

  get size() {
    return this.items.size;
  }
}
