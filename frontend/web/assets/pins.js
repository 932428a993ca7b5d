// PinClient: each room's pinned messages (GET /rooms/:id/pins), kept live
// from message_updated and message_deleted frames, and pinning and
// unpinning (POST|DELETE /rooms/:id/pins/:message_id). It touches no DOM.
// ChatClient hands it every frame (chat.pins); an answer to one's own pin
// goes through ChatClient's frame handling too, so the room log, an open
// thread and the pin list change at once, before the frame comes back.

import { normalizeMessage } from './lib/roomlog.js';
import { applyPin, dropPin } from './lib/pins.js';

/** Store key: pins, roomId → {list (newest pin first), loaded, error}. */
export class PinClient {
  constructor({ api, store, chat }) {
    this.api = api;
    this.store = store;
    this.chat = chat;
    this.loading = new Map(); // roomId → promise
    // roomId → the frames that arrived while its list was being fetched:
    // the answer may have been read before them, so they are applied to it
    // again, in order, when it lands (each carries the message's state).
    this.during = new Map();
    store.set({ pins: {} });
    chat.pins = this;
  }

  /** The pin state of a room (undefined before its first load). */
  of(roomId) {
    return this.store.state.pins[Number(roomId)];
  }

  _put(roomId, entry) {
    this.store.set({ pins: { ...this.store.state.pins, [Number(roomId)]: entry } });
  }

  /** Loads (again) a room's pins. */
  load(roomId) {
    const rid = Number(roomId);
    if (!this.loading.has(rid)) {
      this.during.set(rid, []);
      const p = (async () => {
        try {
          const res = await this.api.get(`/api/chat/rooms/${rid}/pins`);
          let list = (res.messages ?? []).map(normalizeMessage);
          for (const ev of this.during.get(rid) ?? []) list = replay(list, ev);
          this._put(rid, { list, loaded: true, error: null });
          return list;
        } catch (err) {
          this._put(rid, { list: this.of(rid)?.list ?? [], loaded: true, error: err });
          throw err;
        }
      })().finally(() => {
        this.loading.delete(rid);
        this.during.delete(rid);
      });
      this.loading.set(rid, p);
    }
    return this.loading.get(rid);
  }

  /**
   * Pins (pin=true) or unpins a message; resolves to the message as the
   * server answered it.
   */
  async setPinned(msg, pin) {
    const path = `/api/chat/rooms/${Number(msg.room_id)}/pins/${Number(msg.id)}`;
    const res = pin ? await this.api.post(path) : await this.api.del(path);
    if (res?.id != null) this.chat.handle({ type: 'message_updated', message: res });
    return res;
  }

  /** Handles one socket frame. */
  handle(ev) {
    switch (ev.type) {
      case 'message_updated':
      case 'message_deleted': {
        const rid = Number(ev.room_id ?? ev.message?.room_id);
        if (ev.type === 'message_updated' && !ev.message) return;
        this.during.get(rid)?.push(ev);
        const cur = this.of(rid);
        if (!cur?.loaded) return;
        const list = replay(cur.list, ev);
        if (list !== cur.list) this._put(rid, { ...cur, list });
        break;
      }
      case 'ready': {
        // Pins changed while the socket was away are not replayed: the
        // room on screen asks again; others ask when they open.
        const open = Number(this.store.state.currentRoomId);
        const pins = {};
        if (this.of(open)) pins[open] = this.of(open);
        this.store.set({ pins });
        if (this.of(open)) this.load(open).catch(() => {});
        break;
      }
      default:
        break;
    }
  }
}

/** list after one message_updated or message_deleted frame. */
function replay(list, ev) {
  if (ev.type === 'message_deleted') return dropPin(list, ev.message_id ?? ev.message?.id);
  return applyPin(list, normalizeMessage(ev.message));
}
