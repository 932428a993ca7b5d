// Entry point: loads the runtime config, restores the session, starts the
// live connection and routes between the views.

import { Api, ApiError, REFRESH_KEY, loadConfig } from './api.js';
import { ChatSocket } from './socket.js';
import { ChatClient } from './chat.js';
import { ProfileCache } from './profiles.js';
import { createStore } from './state.js';
import { createRouter } from './router.js';
import { PUBLIC_ROUTES, safeNext } from './lib/routes.js';
import { h, logo } from './ui/dom.js';
import { emptyState, emptyStateAt, toastError } from './ui/widgets.js';
import { alertMessage, shouldAlert } from './ui/notify.js';
import { liveRegion, say } from './ui/live.js';
import { Announcer, announcement } from './lib/announcer.js';
import { displayName, documentTitle } from './lib/format.js';
import { loginView, registerView } from './views/auth.js';
import { createShell, viewHeader } from './views/shell.js';
import { roomView } from './views/room.js';
import { browseView } from './views/browse.js';
import { searchView } from './views/search.js';
import { myProfileView, userProfileView } from './views/profile.js';
import { settingsView } from './views/settings.js';
import { adminView } from './views/admin.js';
import { ThreadClient } from './threads.js';
import { PinClient } from './pins.js';
import { threadsView } from './views/thread.js';
import { mentionsView } from './views/mentions.js';

const THEME_KEY = 'parley.theme';
const LAST_ROOM_KEY = 'parley.last_room';
const HEALTH_POLL_MS = 5_000;

const darkQuery = window.matchMedia('(prefers-color-scheme: dark)');

/** Applies a theme preference ('light', 'dark' or 'system'). */
function applyTheme(pref) {
  const theme = pref === 'light' || pref === 'dark' ? pref : darkQuery.matches ? 'dark' : 'light';
  document.documentElement.dataset.theme = theme;
  document.documentElement.dataset.themePref = pref || 'system';
  document.querySelector('meta[name="theme-color"]')?.setAttribute('content', theme === 'dark' ? '#16171b' : '#ffffff');
  try {
    localStorage.setItem(THEME_KEY, pref || 'system');
  } catch {
    // storage full or blocked: the theme still applies for this page
  }
}
applyTheme(localStorage.getItem(THEME_KEY) || 'system');
darkQuery.addEventListener('change', () => applyTheme(document.documentElement.dataset.themePref));

function fatal(root, title, text, retry) {
  root.replaceChildren(h('main', { class: 'auth-page' }, h('div', { class: 'auth-card center', testid: 'fatal' },
    h('div', { class: 'auth-brand' }, logo('logo-lg'), h('span', { class: 'brand-name', text: 'Parley' })),
    emptyStateAt('h1', 'alert', title, text, h('button', { type: 'button', class: 'btn btn-primary', onClick: retry }, 'Try again')))));
  document.title = documentTitle(title);
}

async function main() {
  const root = document.getElementById('app');
  liveRegion();
  new MutationObserver((_, obs) => {
    // The first real screen replaces the boot mark.
    root.classList.remove('boot');
    root.removeAttribute('aria-busy');
    obs.disconnect();
  }).observe(root, { childList: true });
  let cfg;
  try {
    cfg = await loadConfig();
  } catch {
    fatal(root, 'Parley could not start.', 'The app configuration did not load. Check your connection and try again.', () => location.reload());
    return;
  }

  const store = createStore({ conn: { status: 'idle' }, service: { down: false }, settings: null, session: null });
  const api = new Api({ baseUrl: cfg.apiBaseUrl });
  const profiles = new ProfileCache({ api, store });
  const chat = new ChatClient({ api, store });
  const threads = new ThreadClient({ api, store, chat });
  const pins = new PinClient({ api, store, chat });
  const ctx = { api, store, chat, threads, pins, profiles, config: cfg, drafts: new Map(), router: null, shell: null };
  let socket = null;
  let shell = null;
  let healthTimer = 0;
  let healthDelay = 1_000;

  ctx.wakeSocket = () => socket?.wake();
  ctx.logout = () => api.logout();
  ctx.applySettings = (s) => {
    if (!s) return;
    store.set({ settings: s });
    applyTheme(s.theme || 'system');
  };

  // While a service is down, poll the gateway's aggregated health (a
  // plain fetch: it must not raise the banner itself) to name the culprit
  // and to lower the banner as soon as the failed service is back. Any
  // successful API call lowers it too.
  async function checkHealth() {
    clearTimeout(healthTimer);
    healthTimer = 0;
    const cur = store.state.service;
    if (!cur?.down) return;
    let ok = false;
    let detail = cur.detail;
    try {
      const res = await fetch(`${cfg.apiBaseUrl}/health`, { cache: 'no-store', credentials: 'omit' });
      const rep = await res.json().catch(() => ({}));
      const services = rep.services ?? {};
      ok = res.ok || (cur.service != null && services[cur.service]?.status === 'ok');
      const bad = Object.entries(services).filter(([, s]) => s.status !== 'ok').map(([n, s]) => `${n}-service is ${s.status}`);
      if (bad.length) detail = `${bad.join(', ')}.`;
    } catch {
      detail = 'The API gateway does not answer.';
    }
    if (ok) {
      store.set({ service: { down: false } });
      healthDelay = 1_000;
      socket?.wake();
      return;
    }
    if (store.state.service?.down) {
      store.set({ service: { ...store.state.service, detail } });
      healthTimer = setTimeout(checkHealth, healthDelay);
      healthDelay = Math.min(HEALTH_POLL_MS, healthDelay * 2);
    }
  }
  ctx.checkHealth = checkHealth;
  // The connection banner's one Retry: the socket and the REST side both.
  ctx.retryConnection = () => {
    socket?.wake();
    checkHealth();
  };

  // Alerts for new messages and for mentions (a `mention` frame comes
  // also from rooms this page does not follow), once per message.
  const alertFor = (msg, room) => {
    const settings = store.state.settings;
    const opts = { me: api.user, settings, viewingRoomId: store.state.currentRoomId, visible: document.visibilityState === 'visible', direct: room?.kind === 'dm' || room?.kind === 'group' };
    if (!shouldAlert(msg, opts)) return;
    const name = room?.kind === 'dm' ? 'a direct message' : room?.kind === 'group' ? 'a group conversation' : room?.name ?? 'a room';
    alertMessage({ ...msg, username: displayName(profiles.get(msg.user_id), msg.username) }, name, settings, () => router.go(`/rooms/${msg.room_id}`));
  };
  chat.onMessage = (msg, room) => {
    if (room && chat.mentionTrack.firstAlert(msg.id)) alertFor(msg, room);
  };
  chat.onMention = alertFor;

  // One line per new message for screen readers (see lib/announcer.js).
  const announcer = new Announcer({ say });
  chat.onLive = (msg, room) => {
    const text = announcement(msg, room, {
      me: api.user, viewingRoomId: store.state.currentRoomId, roomName: room?.name,
      authorName: displayName(profiles.get(msg.user_id), msg.username),
    });
    announcer.push(`m${msg.id}`, text);
  };
  chat.onInvited = (room, by) => {
    const who = by?.user_id != null ? displayName(profiles.get(by.user_id), by.username) : by?.username;
    const where = room.name ? `#${room.name}` : 'a room';
    announcer.push(`invited${room.id}:${Date.now()}`, who ? `${who} added you to ${where}` : `You were added to ${where}`);
  };

  api.on('token', (t) => socket?.renewAuth(t));
  api.on('service', (s) => {
    store.set({ service: s.down ? { ...s, detail: store.state.service?.detail } : { down: false } });
    if (s.down && !healthTimer) healthTimer = setTimeout(checkHealth, healthDelay);
    if (!s.down) {
      clearTimeout(healthTimer);
      healthTimer = 0;
      healthDelay = 1_000;
    }
  });
  api.on('logout', ({ reason }) => {
    // A full reload drops every trace of the previous session from memory.
    socket?.stop();
    const notice = reason === 'logout' ? '' : `?reason=${encodeURIComponent(reason ?? '')}`;
    location.replace(`/login${notice}`);
  });
  api.on('session', (u) => store.set({ session: u }));

  window.addEventListener('storage', (e) => {
    // Another tab signed out.
    if (e.key === REFRESH_KEY && !e.newValue && api.token) api.forget('signed_out');
  });
  window.addEventListener('online', () => socket?.setOffline(false));
  window.addEventListener('offline', () => socket?.setOffline(true));
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') socket?.wake();
  });

  function enterApp() {
    if (shell) return;
    socket = new ChatSocket({
      urls: cfg.chatWsUrls,
      getToken: () => api.token,
      refresh: () => api.refresh(),
      ...chat.socketHandlers(),
      onStatus: (s) => {
        // Which chat replica this page is connected to (for tests and
        // debugging; never shown).
        if (s.status === 'open') document.documentElement.dataset.chatReplica = String(s.replica);
        store.set({ conn: s });
        // chat-service answers again: the banner may be stale.
        if (s.status === 'open' && store.state.service?.down) checkHealth();
      },
    });
    chat.attach(socket);
    socket.setOffline(!navigator.onLine);
    socket.start();
    chat.loadRooms().catch(toastError);
    threads.loadFollowed().catch(() => {});
    profiles.get(api.user.id);
    api.get('/api/users/settings/me').then(ctx.applySettings, () => {});
    shell = createShell(ctx);
    ctx.shell = shell;
    root.replaceChildren(shell.el);
  }

  async function home() {
    const asked = router.current;
    try {
      await chat.loadRooms();
    } catch (err) {
      toastError(err);
    }
    // The user went somewhere else while the rooms loaded (a link in the
    // password notice, a shortcut): their choice wins over the default room.
    if (router.current !== asked) return;
    const rooms = store.state.rooms;
    const last = Number(localStorage.getItem(LAST_ROOM_KEY));
    const pick = rooms.find((r) => r.id === last && (r.is_member || r.kind === 'public')) ?? rooms.find((r) => r.is_default) ?? rooms.find((r) => r.is_member);
    if (pick) router.go(`/rooms/${pick.id}`, { replace: true });
    else router.go('/browse', { replace: true });
  }

  function show(route) {
    if (PUBLIC_ROUTES.has(route.name)) {
      if (api.user) {
        router.go(safeNext(route.query.next), { replace: true });
        return;
      }
      const onDone = () => router.go(safeNext(route.query.next), { replace: true });
      const reasons = { refresh_token_reused: 'Your session was ended for safety. Please sign in again.', account_disabled: 'This account is disabled.', refresh_token_expired: 'Your session expired. Please sign in again.', refresh_token_revoked: 'You were signed out: from another device, by a password change or by an administrator.' };
      const view = route.name === 'login' ? loginView(ctx, { onDone, notice: reasons[route.query.reason] }) : registerView(ctx, { onDone });
      root.replaceChildren(view.el);
      document.title = documentTitle(route.name === 'login' ? 'Sign in' : 'Create account');
      return;
    }
    if (!api.user) {
      const next = location.pathname + location.search;
      router.go(next === '/' ? '/login' : `/login?next=${encodeURIComponent(next)}`, { replace: true });
      return;
    }
    enterApp();
    const cur = shell.view;
    if (route.name !== 'room') store.set({ currentRoomId: null });
    switch (route.name) {
      case 'home':
        home();
        return;
      case 'room':
        localStorage.setItem(LAST_ROOM_KEY, String(route.params.id));
        if (cur?.roomId === route.params.id) {
          if (route.query.seq) cur.reveal(route.query.seq);
          else cur.route?.(route.query);
          return;
        }
        shell.setView(roomView(ctx, route.params.id, { seq: route.query.seq, thread: route.query.thread, m: route.query.m }));
        return;
      case 'threads':
        shell.setView(threadsView(ctx));
        return;
      case 'browse':
        shell.setView(browseView(ctx));
        return;
      case 'search':
        shell.setView(searchView(ctx, route.query));
        return;
      case 'profile':
        shell.setView(myProfileView(ctx));
        return;
      case 'user':
        if (route.params.id === api.user.id) {
          router.go('/profile', { replace: true });
          return;
        }
        shell.setView(userProfileView(ctx, route.params.id));
        return;
      case 'settings':
        shell.setView(settingsView(ctx, route.query));
        return;
      case 'admin':
        shell.setView(adminView(ctx));
        return;
      case 'mentions':
        shell.setView(mentionsView(ctx));
        return;
      default:
        shell.setView({ el: h('section', { class: 'page' }, viewHeader(ctx, [h('h1', { text: 'Not found' })]), h('div', { class: 'page-body' }, emptyState('compass', 'There is nothing here.', 'The page you asked for does not exist.', h('a', { href: '/', class: 'btn btn-primary' }, 'Go home')))) });
    }
  }

  const router = createRouter(show);
  ctx.router = router;

  async function boot() {
    if (api.hasStoredSession()) {
      try {
        await api.restore();
      } catch {
        // The refresh token is kept: only the server's "no" ends a session.
        fatal(root, 'Cannot reach Parley.', 'The server did not answer. Your session is kept; try again in a moment.', () => {
          root.replaceChildren();
          boot();
        });
        return;
      }
    }
    router.start();
  }
  boot();
}

main();
