// A cache of user profiles (display names, avatars, status) filled in
// batches: views ask for the ids they draw, and one GET /profiles?ids=...
// a few milliseconds later answers them all.

const BATCH_DELAY_MS = 20;
const MAX_BATCH = 200;
const STALE_MS = 5 * 60_000;

/** Profiles by user id; the store key 'profiles' is touched on arrival. */
export class ProfileCache {
  constructor({ api, store, now = () => Date.now(), setTimer = (f, ms) => setTimeout(f, ms) }) {
    Object.assign(this, { api, store, now, setTimer });
    this.byId = new Map(); // id → {profile, at}
    this.wanted = new Set();
    this.inflight = new Set();
    this.timer = null;
    store.set({ profilesVersion: 0 });
  }

  /** The cached profile (null if not yet known; a fetch is queued). */
  get(id) {
    const uid = Number(id);
    if (!Number.isSafeInteger(uid) || uid <= 0) return null;
    const hit = this.byId.get(uid);
    if (!hit || this.now() - hit.at > STALE_MS) this._want(uid);
    return hit?.profile ?? null;
  }

  /** Stores a profile the app got elsewhere (its own after an update). */
  put(profile) {
    if (!profile?.id) return;
    this.byId.set(Number(profile.id), { profile, at: this.now() });
    this._touch();
  }

  /** Forgets a profile so the next get refetches it. */
  invalidate(id) {
    this.byId.delete(Number(id));
    this._touch();
  }

  /** Fetches one profile now. */
  async fetch(id) {
    const p = await this.api.get(`/api/users/profiles/${Number(id)}`);
    this.put(p);
    return p;
  }

  /** The avatar URL of a user: the profile's own (versioned) or the default route. */
  avatarUrl(id) {
    const p = this.byId.get(Number(id))?.profile;
    if (p?.avatar_url) {
      return /^https?:\/\//.test(p.avatar_url) ? p.avatar_url : this.api.baseUrl + p.avatar_url;
    }
    return this.api.avatarUrl(id);
  }

  _touch() {
    this.store.set({ profilesVersion: (this.store.state.profilesVersion ?? 0) + 1 });
  }

  _want(id) {
    if (this.inflight.has(id)) return;
    this.wanted.add(id);
    if (this.timer == null) this.timer = this.setTimer(() => this._flush(), BATCH_DELAY_MS);
  }

  async _flush() {
    this.timer = null;
    const ids = [...this.wanted].slice(0, MAX_BATCH);
    for (const id of ids) {
      this.wanted.delete(id);
      this.inflight.add(id);
    }
    if (this.wanted.size > 0) this.timer = this.setTimer(() => this._flush(), BATCH_DELAY_MS);
    if (ids.length === 0) return;
    try {
      const res = await this.api.get('/api/users/profiles', { ids: ids.join(',') });
      const t = this.now();
      for (const p of res.profiles ?? []) this.byId.set(Number(p.id), { profile: p, at: t });
      // Remember misses too, so they are not asked for again at once.
      for (const id of ids) if (!this.byId.has(id)) this.byId.set(id, { profile: null, at: t });
      this._touch();
    } catch {
      // Names fall back to the usernames messages carry; retried on next get.
    } finally {
      for (const id of ids) this.inflight.delete(id);
    }
  }
}
