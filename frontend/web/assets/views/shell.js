// The signed-in frame: the sidebar (rooms, DMs, navigation, connection
// state, the user), the service banner and the main area the routed view
// fills. On narrow screens the sidebar is a drawer.

import { h, icon, iconButton, logo, replace } from '../ui/dom.js';
import { avatar, openMenu } from '../ui/widgets.js';
import { displayName, preview } from '../lib/format.js';
import { listTime } from '../lib/timefmt.js';
import { createRoomDialog, newDMDialog } from './dialogs.js';

/** Maps the socket status to what the indicator shows. */
export function connectionLabel(conn, everConnected) {
  switch (conn?.status) {
    case 'open':
      return { state: 'connected', label: 'Connected' };
    case 'offline':
      return { state: 'offline', label: 'Offline' };
    case 'waiting':
    case 'connecting':
      return everConnected || conn.attempt > 0 ? { state: 'reconnecting', label: 'Reconnecting…' } : { state: 'connecting', label: 'Connecting…' };
    default:
      return { state: 'connecting', label: 'Connecting…' };
  }
}

/** Builds the shell; returns {el, main, setView, toggleDrawer, closeDrawer, destroy}. */
export function createShell(ctx) {
  const { store, chat, profiles, api } = ctx;
  let everConnected = false;

  const banner = h('div', { class: 'service-banner', role: 'alert', testid: 'service-banner', hidden: true });
  const connBtn = h('button', { type: 'button', class: 'conn', testid: 'conn-state', onClick: () => ctx.wakeSocket() });
  const roomList = h('nav', { class: 'room-list', testid: 'room-list', 'aria-label': 'Rooms' });
  const userCard = h('div', { class: 'user-card' });
  const searchInput = h('input', { type: 'search', placeholder: 'Search messages', 'aria-label': 'Search messages', testid: 'search-input', enterkeyhint: 'search' });
  const searchForm = h('form', {
    class: 'sidebar-search', role: 'search',
    onSubmit: (e) => {
      e.preventDefault();
      const q = searchInput.value.trim();
      if (q) ctx.router.go(`/search?q=${encodeURIComponent(q)}`);
    },
  }, icon('search'), searchInput);

  const sidebar = h('aside', { class: 'sidebar', testid: 'sidebar', 'aria-label': 'Navigation' },
    h('div', { class: 'sidebar-head' },
      h('a', { href: '/', class: 'brand', 'aria-label': 'Parley home' }, logo(), h('span', { class: 'brand-name', text: 'Parley' })),
      connBtn,
      iconButton('x', 'Close menu', { class: 'drawer-close', onClick: () => closeDrawer() })),
    searchForm,
    roomList,
    userCard);
  const scrim = h('div', { class: 'scrim', onClick: () => closeDrawer() });
  const main = h('main', { class: 'main', id: 'main' });
  // Visible on every screen size (the sidebar's indicator is in a drawer on
  // phones); CSS delays it a moment so a quick reconnect does not flash.
  const strip = h('div', { class: 'conn-strip', testid: 'conn-strip', role: 'status', hidden: true });
  const el = h('div', { class: 'shell', testid: 'app-shell' }, banner, h('div', { class: 'layout' }, sidebar, scrim, h('div', { class: 'main-wrap' }, strip, main)));

  function toggleDrawer() {
    el.classList.toggle('drawer-open');
    if (el.classList.contains('drawer-open')) (sidebar.querySelector('.room-item.active') ?? sidebar.querySelector('.room-item') ?? searchInput).focus({ preventScroll: true });
  }
  function closeDrawer() {
    el.classList.remove('drawer-open');
  }
  sidebar.addEventListener('click', (e) => {
    if (e.target.closest('a[href]')) closeDrawer();
  });
  el.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && el.classList.contains('drawer-open')) closeDrawer();
  });

  function renderConn() {
    const conn = store.state.conn;
    if (conn?.status === 'open') everConnected = true;
    const { state, label } = connectionLabel(conn, everConnected);
    connBtn.dataset.state = state;
    connBtn.setAttribute('aria-label', `Connection: ${label}`);
    connBtn.title = state === 'reconnecting' ? 'Reconnecting — click to retry now' : label;
    replace(connBtn, h('span', { class: 'conn-dot' }), h('span', { class: 'conn-label', text: label }));
    document.documentElement.dataset.conn = state;
    strip.hidden = state === 'connected' || state === 'connecting';
    strip.dataset.state = state;
    if (!strip.hidden) {
      replace(strip, h('span', { class: 'conn-dot' }),
        h('span', { text: state === 'offline' ? 'You are offline. Messages you send will go out when the network is back.' : 'Reconnecting to chat… Messages you send will be delivered once connected.' }),
        state === 'reconnecting' ? h('button', { type: 'button', class: 'link-btn', onClick: () => ctx.wakeSocket() }, 'Retry now') : null);
    }
  }

  function renderBanner() {
    const s = store.state.service;
    if (!s?.down) {
      banner.hidden = true;
      return;
    }
    banner.hidden = false;
    const what = s.status === 0 ? 'Parley cannot reach the server.' : `A Parley service is unavailable (${s.status}).`;
    replace(banner, icon('alert'), h('span', { class: 'banner-text' }, h('strong', { text: what }), ' ', h('span', { text: s.detail || s.message || '' }), ' Retrying automatically…'),
      h('button', { type: 'button', class: 'btn btn-small btn-ghost', onClick: () => ctx.checkHealth() }, 'Retry now'));
  }

  // Room items are cached by room and rebuilt only when what they show
  // changes, so hover and focus survive the frequent list updates.
  const itemCache = new Map(); // room id → {sig, el}

  function roomItem(room, current) {
    const isDM = room.kind === 'dm';
    const peer = isDM ? room.dm_user : null;
    const peerProfile = peer ? profiles.get(peer.user_id) : null;
    const name = isDM ? displayName(peerProfile, peer?.username ?? room.name) : room.name;
    const last = room.last_message;
    let prev = '';
    if (last) {
      const who = Number(last.user_id) === api.user?.id ? 'You' : displayName(profiles.get(last.user_id), last.username);
      prev = last.deleted ? `${who}: message deleted` : `${who}: ${preview(last.body, 60)}`;
    }
    const unread = room.is_member ? Number(room.unread ?? 0) : 0;
    const online = isDM && (store.state.presence[room.id] ?? []).some((u) => Number(u.user_id) === Number(peer?.user_id));
    const time = last ? listTime(last.created_at) : '';
    const active = room.id === current;
    const sig = JSON.stringify([name, prev, unread, time, active, room.kind, online, isDM ? profiles.avatarUrl(peer?.user_id) : '']);
    const hit = itemCache.get(room.id);
    if (hit && hit.sig === sig) return hit.el;
    const lead = isDM
      ? avatar(ctx, peer?.user_id, name, 'xs', online)
      : h('span', { class: 'room-icon' }, icon(room.kind === 'private' ? 'lock' : 'hash'));
    const el = h('a', {
      href: `/rooms/${room.id}`, class: ['room-item', active && 'active', unread > 0 && 'has-unread'],
      testid: 'room-item', dataset: { roomId: room.id, roomName: name, kind: room.kind },
      'aria-current': active ? 'page' : null,
      'aria-label': `${isDM ? 'Direct message with ' : ''}${name}${unread ? `, ${unread} unread` : ''}`,
    },
    lead,
    h('span', { class: 'room-text' }, h('span', { class: 'room-name', text: name }), prev ? h('span', { class: 'room-preview', testid: 'room-preview', text: prev }) : null),
    h('span', { class: 'room-meta' },
      last ? h('time', { class: 'room-time', datetime: last.created_at, text: time }) : null,
      unread > 0 ? h('span', { class: 'badge', testid: 'unread-badge', text: unread > 99 ? '99+' : String(unread) }) : null));
    itemCache.set(room.id, { sig, el });
    return el;
  }

  function section(title, body, action, testid) {
    return h('div', { class: 'room-section', testid },
      h('div', { class: 'section-head' }, h('span', { class: 'section-title', text: title }), action), body);
  }

  const channelBody = h('div', { class: 'section-body' });
  const dmBody = h('div', { class: 'section-body' });
  roomList.append(
    section('Channels', channelBody, iconButton('plus', 'Create a room', { testid: 'new-room', class: 'section-action', onClick: () => createRoomDialog(ctx) }), 'channels'),
    h('a', { href: '/browse', class: 'nav-link', testid: 'browse-rooms' }, icon('compass'), h('span', { text: 'Browse rooms' })),
    section('Direct messages', dmBody, iconButton('plus', 'New direct message', { testid: 'new-dm', class: 'section-action', onClick: () => newDMDialog(ctx) }), 'dms'));

  function fill(body, items, emptyText) {
    const want = items.length ? items : [h('div', { class: 'section-empty', text: emptyText })];
    // Move or insert only what differs, keeping unchanged nodes in place.
    want.forEach((el, i) => {
      if (body.children[i] !== el) body.insertBefore(el, body.children[i] ?? null);
    });
    while (body.children.length > want.length) body.lastChild.remove();
  }

  function renderRooms() {
    const current = store.state.currentRoomId;
    const rooms = store.state.rooms;
    const channels = rooms.filter((r) => r.kind !== 'dm' && r.is_member);
    const dms = rooms.filter((r) => r.kind === 'dm');
    fill(channelBody, channels.map((r) => roomItem(r, current)), 'No rooms yet');
    fill(dmBody, dms.map((r) => roomItem(r, current)), 'No conversations yet');
    const live = new Set(rooms.map((r) => r.id));
    for (const id of itemCache.keys()) if (!live.has(id)) itemCache.delete(id);
    const total = rooms.reduce((n, r) => n + (r.is_member ? Number(r.unread ?? 0) : 0), 0);
    document.title = total > 0 ? `(${total}) Parley` : 'Parley';
  }

  function renderUser() {
    const me = api.user;
    if (!me) return;
    const p = profiles.get(me.id);
    const name = displayName(p, me.username);
    const more = iconButton('more', 'Account menu', { testid: 'account-menu' });
    more.addEventListener('click', () => openMenu(more, [
      { label: 'Profile', icon: 'user', testid: 'nav-profile', onSelect: () => ctx.router.go('/profile') },
      { label: 'Settings', icon: 'sliders', testid: 'nav-settings', onSelect: () => ctx.router.go('/settings') },
      me.role === 'admin' ? { label: 'Admin', icon: 'shield', testid: 'nav-admin', onSelect: () => ctx.router.go('/admin') } : null,
      { label: 'Sign out', icon: 'logout', testid: 'logout', danger: true, onSelect: () => ctx.logout() },
    ]));
    replace(userCard,
      h('a', { href: '/profile', class: 'user-link', testid: 'me', 'aria-label': 'Your profile' },
        avatar(ctx, me.id, name, 'sm', store.state.conn?.status === 'open'),
        h('span', { class: 'user-text' }, h('span', { class: 'user-name', text: name }), h('span', { class: 'user-status', text: p?.status_text || `@${me.username}` }))),
      h('a', { href: '/settings', class: 'icon-btn', 'aria-label': 'Settings', title: 'Settings', testid: 'settings-link' }, icon('sliders')),
      me.role === 'admin' ? h('a', { href: '/admin', class: 'icon-btn', 'aria-label': 'Admin', title: 'Admin', testid: 'admin-link' }, icon('shield')) : null,
      more);
  }

  let frame = 0;
  const dirty = new Set();
  function schedule(part) {
    dirty.add(part);
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      if (dirty.has('rooms')) renderRooms();
      if (dirty.has('user')) renderUser();
      if (dirty.has('conn')) renderConn();
      if (dirty.has('banner')) renderBanner();
      dirty.clear();
    });
  }
  const unsubs = [
    store.subscribe(['rooms', 'currentRoomId', 'presence'], () => schedule('rooms')),
    store.subscribe(['profilesVersion'], () => { schedule('rooms'); schedule('user'); }),
    store.subscribe(['conn'], () => { schedule('conn'); schedule('user'); }),
    store.subscribe(['service'], () => schedule('banner')),
    store.subscribe(['session'], () => schedule('user')),
  ];
  renderConn();
  renderRooms();
  renderUser();
  renderBanner();

  let view = null;
  function setView(v) {
    view?.destroy?.();
    view = v;
    replace(main, v.el);
  }

  return {
    el, main, setView, toggleDrawer, closeDrawer,
    get view() { return view; },
    destroy() {
      view?.destroy?.();
      unsubs.forEach((u) => u());
      cancelAnimationFrame(frame);
    },
  };
}

/** The header every main view starts with (drawer button on phones). */
export function viewHeader(ctx, titleNodes, actions = []) {
  return h('header', { class: 'view-header' },
    iconButton('menu', 'Open menu', { class: 'drawer-toggle', testid: 'drawer-toggle', onClick: () => ctx.shell.toggleDrawer() }),
    h('div', { class: 'view-title' }, titleNodes),
    h('div', { class: 'view-actions' }, actions));
}
