// The app's state: one plain object, changed only through set/update, with
// subscribers per key. Views subscribe to the keys they draw from and
// coalesce redraws themselves.

/** Creates a store holding initial. */
export function createStore(initial = {}) {
  let state = { ...initial };
  const subs = new Map(); // key → Set of fns
  const any = new Set();

  function notify(keys) {
    const called = new Set();
    for (const k of keys) {
      for (const fn of subs.get(k) ?? []) {
        if (!called.has(fn)) {
          called.add(fn);
          fn(state, keys);
        }
      }
    }
    for (const fn of any) if (!called.has(fn)) fn(state, keys);
  }

  return {
    /** The current state (treat as read-only). */
    get state() {
      return state;
    },
    /** Merges patch into the state and notifies the subscribers of its keys. */
    set(patch) {
      const keys = Object.keys(patch).filter((k) => state[k] !== patch[k]);
      if (keys.length === 0) return;
      state = { ...state, ...patch };
      notify(keys);
    },
    /** Like set, with a patch computed from the current state. */
    update(fn) {
      this.set(fn(state));
    },
    /** Notifies key's subscribers without changing anything (mutable values). */
    touch(...keys) {
      notify(keys);
    },
    /**
     * Calls fn(state, changedKeys) whenever one of keys changes (any key when
     * keys is empty). Returns the unsubscribe function.
     */
    subscribe(keys, fn) {
      if (!keys || keys.length === 0) {
        any.add(fn);
        return () => any.delete(fn);
      }
      for (const k of keys) {
        if (!subs.has(k)) subs.set(k, new Set());
        subs.get(k).add(fn);
      }
      return () => {
        for (const k of keys) subs.get(k)?.delete(fn);
      };
    },
  };
}

/** A tiny event emitter for modules that report events rather than state. */
export class Emitter {
  constructor() {
    this._handlers = new Map();
  }
  on(type, fn) {
    if (!this._handlers.has(type)) this._handlers.set(type, new Set());
    this._handlers.get(type).add(fn);
    return () => this._handlers.get(type)?.delete(fn);
  }
  emit(type, data) {
    for (const fn of [...(this._handlers.get(type) ?? [])]) {
      try {
        fn(data);
      } catch (err) {
        console.error(`handler for ${type} failed`, err);
      }
    }
  }
}
