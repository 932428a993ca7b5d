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
import { emptyState, toastError } from './ui/widgets.js';
import { loginView, registerView } from './views/auth.js';
import { createShell, viewHeader } from './views/shell.js';
import { roomView } from './views/room.js';
import { browseView } from './views/browse.js';
import { searchView } from './views/search.js';
import { myProfileView, userProfileView } from './views/profile.js';
import { settingsView } from './views/settings.js';
import { adminView } from './views/admin.js';

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
  root.replaceChildren(h('div', { class: 'auth-page' }, h('div', { class: 'auth-card center', testid: 'fatal' },
    h('div', { class: 'auth-brand' }, logo('logo-lg'), h('span', { class: 'brand-name', text: 'Parley' })),
    emptyState('alert', title, text, h('button', { type: 'button', class: 'btn btn-primary', onClick: retry }, 'Try again')))));
}

async function main() {
  const root = document.getElementById('app');
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
  const ctx = { api, store, chat, profiles, config: cfg, drafts: new Map(), router: null, shell: null };
  let socket = null;
  let shell = null;
  let healthTimer = 0;

  ctx.wakeSocket = () => socket?.wake();
  ctx.logout = () => api.logout();
  ctx.applySettings = (s) => {
    if (!s) return;
    store.set({ settings: s });
    applyTheme(s.theme || 'system');
  };

  // While a service is down, poll the gateway's aggregated health to name
  // the culprit and to clear the banner as soon as everything is back.
  async function checkHealth() {
    clearTimeout(healthTimer);
    try {
      await api.request('GET', '/health', { auth: false });
      store.set({ service: { down: false } });
    } catch (err) {
      if (!(err instanceof ApiError) || !err.transient) {
        store.set({ service: { down: false } });
        return;
      }
      try {
        const res = await fetch(`${cfg.apiBaseUrl}/health`, { cache: 'no-store' });
        const rep = await res.json();
        const bad = Object.entries(rep.services ?? {}).filter(([, s]) => s.status !== 'ok').map(([n, s]) => `${n} is ${s.status}`);
        if (bad.length) store.set({ service: { ...store.state.service, down: true, detail: `${bad.join(', ')}.` } });
      } catch {
        // the gateway itself is unreachable; the banner says so already
      }
      healthTimer = setTimeout(checkHealth, HEALTH_POLL_MS);
    }
  }
  ctx.checkHealth = checkHealth;

  api.on('token', (t) => socket?.renewAuth(t));
  api.on('service', (s) => {
    store.set({ service: s.down ? { ...s, detail: store.state.service?.detail } : { down: false } });
    if (s.down && !healthTimer) healthTimer = setTimeout(checkHealth, HEALTH_POLL_MS);
    if (!s.down) {
      clearTimeout(healthTimer);
      healthTimer = 0;
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
      url: cfg.chatWsUrl,
      getToken: () => api.token,
      refresh: () => api.refresh(),
      ...chat.socketHandlers(),
      onStatus: (s) => store.set({ conn: s }),
    });
    chat.attach(socket);
    socket.setOffline(!navigator.onLine);
    socket.start();
    chat.loadRooms().catch(toastError);
    profiles.get(api.user.id);
    api.get('/api/users/settings/me').then(ctx.applySettings, () => {});
    shell = createShell(ctx);
    ctx.shell = shell;
    root.replaceChildren(shell.el);
  }

  async function home() {
    try {
      await chat.loadRooms();
    } catch (err) {
      toastError(err);
    }
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
      const reasons = { refresh_token_reused: 'Your session was ended for safety. Please sign in again.', account_disabled: 'This account is disabled.', refresh_token_expired: 'Your session expired. Please sign in again.' };
      const view = route.name === 'login' ? loginView(ctx, { onDone, notice: reasons[route.query.reason] }) : registerView(ctx, { onDone });
      root.replaceChildren(view.el);
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
          return;
        }
        shell.setView(roomView(ctx, route.params.id, { seq: route.query.seq }));
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
        shell.setView(settingsView(ctx));
        return;
      case 'admin':
        shell.setView(adminView(ctx));
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
