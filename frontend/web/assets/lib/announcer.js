// What a screen reader hears about new messages, decided apart from the
// DOM. The message list itself is not a live region: history pages, scroll
// back, re-renders (a reaction, an edit, a display name arriving) and the
// "Sending…" placeholder of one's own message would all speak. Instead one
// polite live region receives one short line per new message: every message
// of the room being read (one's own once the server has it), and direct
// messages and mentions from the other rooms. Each message id speaks at most
// once, a replay after a reconnect not at all (too old), and a burst is
// summed up in one line rather than read out message by message.

import { preview } from './format.js';
import { plainText } from './markdown.js';
import { mentionsMe } from './mentions.js';
import { previewText } from './uploads.js';

/** Messages older than this when they arrive are replays, not news. */
export const ANNOUNCE_MAX_AGE_MS = 120_000;
const TEXT_MAX = 280;

/**
 * The line to announce for msg (live, just appended to room), or null.
 * o: {me: {id, username}, viewingRoomId, authorName, roomName, now}.
 */
export function announcement(msg, room, o) {
  if (!msg || msg.deleted || !room) return null;
  const now = o.now ?? Date.now();
  const at = new Date(msg.created_at).getTime();
  if (Number.isFinite(at) && now - at > ANNOUNCE_MAX_AGE_MS) return null;
  const mine = Number(msg.user_id) === Number(o.me?.id);
  const text = preview(previewText({ ...msg, body: plainText(msg.body) }), TEXT_MAX);
  const author = o.authorName || msg.username || 'someone';
  if (Number(room.id) === Number(o.viewingRoomId)) return mine ? `You: ${text}` : `${author}: ${text}`;
  if (mine) return null;
  if (room.kind === 'dm') return `Direct message from ${author}: ${text}`;
  if (room.kind === 'group') return `${author} in a group conversation: ${text}`;
  if (mentionsMe(msg, o.me)) return `${author} mentioned you in ${o.roomName || room.name}: ${text}`;
  return null;
}

/**
 * Queues lines and hands them to say(text) after a short pause, once per
 * key; more than maxBatch lines in one pause become one summary line.
 */
export class Announcer {
  constructor({ say, setTimer = (f, ms) => setTimeout(f, ms), batchMs = 300, maxBatch = 3, remember = 1000 }) {
    this.say = say;
    this.setTimer = setTimer;
    this.batchMs = batchMs;
    this.maxBatch = maxBatch;
    this.remember = remember;
    this.seen = new Set();
    this.queue = [];
    this.timer = null;
  }

  /** Queues text under key (a message id); false when it was said before or is empty. */
  push(key, text) {
    if (!text || this.seen.has(key)) return false;
    this.seen.add(key);
    if (this.seen.size > this.remember) this.seen.delete(this.seen.values().next().value);
    this.queue.push(text);
    if (this.timer == null) this.timer = this.setTimer(() => this.flush(), this.batchMs);
    return true;
  }

  /** Says what is queued now. */
  flush() {
    this.timer = null;
    const q = this.queue;
    this.queue = [];
    if (q.length === 0) return;
    if (q.length <= this.maxBatch) q.forEach((t) => this.say(t));
    else this.say(`${q.length} new messages. Latest: ${q[q.length - 1]}`);
  }
}
