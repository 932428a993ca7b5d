// The mention side of ChatClient (no DOM): each room's mention_count kept
// live between room-list loads, and the `mention {message}` frame chat-
// service sends to every socket of a named user, subscribed to the room or
// not. A mention arrives twice when the room is subscribed (as `message`
// and as `mention`) and in either order: it counts, and alerts, once.

import { mentionsMe } from './mentions.js';

const KEEP = 2000;

function remember(set, id) {
  if (set.size >= KEEP) set.clear();
  set.add(id);
}

export class MentionTracker {
  /** chat: the ChatClient (its store, room(), log(), readingRoom, me, onMention). */
  constructor(chat) {
    this.chat = chat;
    this.counted = new Set(); // message ids in a mention_count
    this.alerted = new Set(); // message ids a notification was considered for
    chat.store.set({ lastMention: null });
  }

  /**
   * A live message appended to a room the user is a member of and not
   * reading: whether it adds to mention_count (a mention of the user not
   * counted yet).
   */
  counts(msg) {
    const me = this.chat.me;
    if (!mentionsMe(msg, me) || this.counted.has(Number(msg.id))) return false;
    remember(this.counted, Number(msg.id));
    this.chat.store.set({ lastMention: msg });
    return true;
  }

  /** A `mention` frame. */
  frame(msg) {
    if (!msg || msg.deleted) return;
    const chat = this.chat;
    const id = Number(msg.id);
    const rid = Number(msg.room_id);
    const room = chat.room(rid);
    const held = chat.logs.get(rid)?.get(id);
    if (room?.is_member && chat.readingRoom !== rid && !held && !this.counted.has(id) && Number(msg.seq) > Number(room.last_read_seq ?? 0)) {
      remember(this.counted, id);
      chat._patchRoom(rid, { mention_count: (room.mention_count ?? 0) + 1 });
    }
    chat.store.set({ lastMention: msg });
    if (!room) chat.loadRooms().catch(() => {});
    if (this.firstAlert(id) && chat.onMention) chat.onMention(msg, chat.room(rid));
  }

  /** True the first time it is asked about a message id (one alert per message). */
  firstAlert(id) {
    const n = Number(id);
    if (this.alerted.has(n)) return false;
    remember(this.alerted, n);
    return true;
  }
}
