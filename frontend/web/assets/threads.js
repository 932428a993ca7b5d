// ThreadClient: the open thread (root and replies, fetched with GET
// /messages/:id/thread and kept live from the socket), the followed threads
// with their unread replies (GET /threads) and the total shown in the
// sidebar. It touches no DOM. ChatClient hands it every live message and
// every frame (chat.threads); replies are sent through ChatClient's outbox
// like any message, with their thread_root_id.

import { normalizeMessage } from './lib/roomlog.js';
import { bumpThread, isReply, mergeReplies, totalUnread } from './lib/threads.js';

const PAGE = 200;

/**
 * Store keys: thread ({root_id, room_id, root, replies, loading, error} or
 * null: the open thread), followedThreads ({list, loaded}), threadUnread
 * (the total of unread replies in followed threads).
 */
export class ThreadClient {
  constructor({ api, store, chat }) {
    this.api = api;
    this.store = store;
    this.chat = chat;
    this.reading = false; // the open thread's newest reply is on screen
    this.loadingFollowed = null;
    store.set({ thread: null, followedThreads: { list: [], loaded: false }, threadUnread: 0 });
    chat.threads = this;
  }

  get current() {
    return this.store.state.thread;
  }

  _setFollowed(list, loaded = true) {
    this.store.set({ followedThreads: { list, loaded }, threadUnread: totalUnread(list) });
  }

  /** Loads the followed threads (the first pages). */
  loadFollowed() {
    if (!this.loadingFollowed) {
      this.loadingFollowed = (async () => {
        const all = [];
        let cursor = null;
        for (let i = 0; i < 5; i++) {
          const page = await this.api.get('/api/chat/threads', { limit: 100, cursor });
          all.push(...(page.threads ?? []).map((t) => ({ ...t, root: normalizeMessage(t.root) })));
          cursor = page.next_cursor;
          if (cursor == null || cursor === '') break;
        }
        this._setFollowed(all);
        return all;
      })().finally(() => {
        this.loadingFollowed = null;
      });
    }
    return this.loadingFollowed;
  }

  /** Opens a thread: its root and every reply (pages of 200). */
  async open(rootId) {
    const id = Number(rootId);
    if (this.current?.root_id === id && !this.current.error) return this.current;
    this.reading = false;
    this.store.set({ thread: { root_id: id, room_id: null, root: null, replies: [], loading: true, error: null } });
    try {
      await this._fetch(id);
    } catch (err) {
      if (this.current?.root_id === id) this.store.set({ thread: { ...this.current, loading: false, error: err } });
      throw err;
    }
    return this.current;
  }

  async _fetch(id) {
    let after = this.current?.replies.at(-1)?.seq ?? null;
    for (let i = 0; i < 50; i++) {
      const page = await this.api.get(`/api/chat/messages/${id}/thread`, { after_seq: after ?? undefined, limit: PAGE });
      const cur = this.current;
      if (cur?.root_id !== id) return;
      const root = normalizeMessage(page.root);
      const replies = mergeReplies(cur.replies, (page.messages ?? []).map(normalizeMessage));
      this.store.set({ thread: { ...cur, root, room_id: root.room_id, replies, loading: false } });
      const next = page.next_cursor;
      if (next == null || next === '' || (page.messages ?? []).length === 0) break;
      after = Number(next);
    }
  }

  close() {
    this.reading = false;
    if (this.current) this.store.set({ thread: null });
  }

  /** Queues a reply in the open thread (or rootId's). */
  send(roomId, rootId, body, files = []) {
    return this.chat.send(roomId, body, Number(rootId), files);
  }

  /** Marks the open thread read up to its newest reply. */
  markRead() {
    const t = this.current;
    if (!t?.root || t.replies.length === 0) return;
    const seq = t.replies.at(-1).seq;
    if (t.read_seq != null && t.read_seq >= seq) return;
    this.store.set({ thread: { ...t, read_seq: seq } });
    const list = this.store.state.followedThreads.list;
    if (list.some((x) => Number(x.root?.id) === t.root_id && x.unread_replies > 0)) {
      this._setFollowed(list.map((x) => (Number(x.root?.id) === t.root_id ? { ...x, unread_replies: 0 } : x)));
    }
    this.api.post(`/api/chat/messages/${t.root_id}/thread/read`, { seq }).then((res) => {
      if (res && typeof res.unread_replies === 'number') {
        const cur = this.store.state.followedThreads.list;
        this._setFollowed(cur.map((x) => (Number(x.root?.id) === t.root_id ? { ...x, unread_replies: res.unread_replies } : x)));
      }
    }, () => {});
  }

  /** A message that reached a room log live (ChatClient._incoming). */
  incoming(raw) {
    if (!isReply(raw)) return;
    const m = normalizeMessage(raw);
    const root = Number(m.thread_root_id);
    const t = this.current;
    if (t?.root_id === root) {
      this.store.set({ thread: { ...t, replies: mergeReplies(t.replies, [m]) } });
      if (this.reading) this.markRead();
    }
    const { threads, found } = bumpThread(this.store.state.followedThreads.list, m, {
      meId: this.api.user?.id,
      openRootId: this.reading ? t?.root_id : null,
    });
    if (found) this._setFollowed(threads, this.store.state.followedThreads.loaded);
    else if (Number(m.user_id) === this.api.user?.id || this.store.state.followedThreads.loaded) {
      // A thread newly followed (one's own reply), or one this list has not
      // seen yet: the server knows who follows what.
      this.loadFollowed().catch(() => {});
    }
  }

  /** Every socket frame (ChatClient.handle). */
  handle(ev) {
    switch (ev.type) {
      case 'ready':
        if (this.current?.root) this._fetch(this.current.root_id).catch(() => {});
        if (this.store.state.followedThreads.loaded) this.loadFollowed().catch(() => {});
        break;
      case 'message_updated': {
        if (!ev.message) break;
        const m = normalizeMessage(ev.message);
        const t = this.current;
        if (t?.root_id === m.id) this.store.set({ thread: { ...t, root: m } });
        else if (t && t.replies.some((r) => r.id === m.id)) this.store.set({ thread: { ...t, replies: mergeReplies(t.replies, [m]) } });
        const list = this.store.state.followedThreads.list;
        if (list.some((x) => Number(x.root?.id) === m.id)) {
          this._setFollowed(list.map((x) => (Number(x.root?.id) === m.id ? { ...x, root: m } : x)), this.store.state.followedThreads.loaded);
        }
        break;
      }
      case 'message_deleted': {
        const id = Number(ev.message_id ?? ev.message?.id);
        const t = this.current;
        if (t?.root_id === id && t.root) this.store.set({ thread: { ...t, root: { ...t.root, deleted: true, body: '', reactions: [] } } });
        else if (t && t.replies.some((r) => r.id === id)) {
          this.store.set({ thread: { ...t, replies: t.replies.map((r) => (r.id === id ? { ...r, deleted: true, body: '', reactions: [] } : r)) } });
        }
        break;
      }
      default:
        break;
    }
  }
}
