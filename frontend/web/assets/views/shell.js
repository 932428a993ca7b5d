// The signed-in frame: the sidebar (rooms, DMs, navigation, connection
// state, the user), the service banner and the main area the routed view
// fills. On narrow screens the sidebar is a drawer.

import { h, icon, iconButton, logo, replace } from '../ui/dom.js';
import { avatar, menuButton, openMenu } from '../ui/widgets.js';
import { focusHeading, keepFocus, rememberFocus, trapTab } from '../ui/focus.js';
import { threadsNavLink } from './thread.js';
import { displayName, documentTitle, preview } from '../lib/format.js';
import { plainText } from '../lib/markdown.js';
import { listTime } from '../lib/timefmt.js';
import { connectionBanner, connectionLabel } from '../lib/connbanner.js';
import { createRoomDialog } from './dialogs.js';
import { newMessageDialog } from './newmessage.js';
import { directTitle, groupAvatar } from './direct.js';
import { previewText } from '../lib/uploads.js';

/**
 * Builds the shell; returns {el, main, setView, setTitle, headingReady,
 * focusHeading, toggleDrawer, closeDrawer, destroy}.
 */
export function createShell(ctx) {
  const { store, chat, profiles, api } = ctx;
  let everConnected = false;
  const phone = window.matchMedia('(max-width: 768px)');

  // The one connection banner: a service down (REST) and the socket away
  // are one outage to the user (lib/connbanner.js). Polite: messages queue
  // meanwhile, nothing the user does is lost.
  const banner = h('div', { class: 'service-banner', role: 'status', testid: 'service-banner', hidden: true });
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

  // The sidebar's head is the page's banner landmark (a <header> outside
  // every sectioning element); the room list and the account links are two
  // navigation landmarks. On phones the sidebar is a drawer, and while it
  // is open a modal dialog: the rest of the page is inert.
  const sidebar = h('div', { class: 'sidebar', id: 'sidebar', testid: 'sidebar' },
    h('header', { class: 'sidebar-head' },
      h('a', { href: '/', class: 'brand', 'aria-label': 'Parley home' }, logo(), h('span', { class: 'brand-name', text: 'Parley' })),
      connBtn,
      iconButton('x', 'Close menu', { class: 'drawer-close', testid: 'drawer-close', onClick: () => closeDrawer() })),
    searchForm,
    roomList,
    h('nav', { class: 'user-nav', 'aria-label': 'Account' }, userCard));
  const scrim = h('div', { class: 'scrim', onClick: () => closeDrawer() });
  const main = h('main', { class: 'main', id: 'main', tabindex: '-1' });
  // Asks the first admin to replace the password auth-service generated
  // (GET /me's must_change_password) until they do.
  const notice = h('div', { class: 'account-notice', role: 'status', testid: 'password-notice', hidden: true });
  const mainWrap = h('div', { class: 'main-wrap' }, notice, main);
  const skip = h('a', {
    href: '#main', class: 'skip-link', testid: 'skip-link',
    onClick: (e) => {
      e.preventDefault();
      if (!focusViewHeading()) main.focus();
    },
  }, 'Skip to main content');
  const el = h('div', { class: 'shell', testid: 'app-shell' }, skip, banner, h('div', { class: 'layout' }, sidebar, scrim, mainWrap));

  let restoreDrawerFocus = null;
  function drawerOpen() {
    return el.classList.contains('drawer-open');
  }
  function toggleDrawer() {
    if (drawerOpen()) {
      closeDrawer();
      return;
    }
    restoreDrawerFocus = rememberFocus(document.activeElement, () => main.querySelector('[data-testid=drawer-toggle]'));
    el.classList.add('drawer-open');
    sidebar.setAttribute('role', 'dialog');
    sidebar.setAttribute('aria-modal', 'true');
    sidebar.setAttribute('aria-label', 'Menu');
    for (const x of [skip, banner, mainWrap]) x.inert = true;
    (sidebar.querySelector('.room-item.active') ?? sidebar.querySelector('.room-item') ?? searchInput).focus({ preventScroll: true });
  }
  /** Closes the drawer; the focus goes back to its opener unless focus is false (navigation). */
  function closeDrawer({ focus = true } = {}) {
    if (!drawerOpen()) return;
    el.classList.remove('drawer-open');
    sidebar.removeAttribute('role');
    sidebar.removeAttribute('aria-modal');
    sidebar.removeAttribute('aria-label');
    for (const x of [skip, banner, mainWrap]) x.inert = false;
    const restore = restoreDrawerFocus;
    restoreDrawerFocus = null;
    if (focus) restore?.();
  }
  sidebar.addEventListener('click', (e) => {
    if (e.target.closest('a[href]')) closeDrawer({ focus: false });
  });
  sidebar.addEventListener('keydown', (e) => {
    if (!drawerOpen()) return;
    if (e.key === 'Escape' && !e.defaultPrevented) {
      e.preventDefault();
      closeDrawer();
    } else {
      trapTab(sidebar, e);
    }
  });
  const onPhoneChange = () => {
    if (!phone.matches) closeDrawer({ focus: false });
  };
  phone.addEventListener('change', onPhoneChange);

  // ---- title and heading ---------------------------------------------------

  let viewTitle = '';
  let unreadTotal = 0;
  let headingWanted = false;
  function renderTitle() {
    document.title = documentTitle(viewTitle, unreadTotal);
  }
  /** Names the current view in the document title. */
  function setTitle(t) {
    viewTitle = t ?? '';
    renderTitle();
  }
  function focusViewHeading() {
    return focusHeading(main.querySelector('h1'));
  }
  /** A view whose heading came late (a room loading) calls this once it is there. */
  function headingReady() {
    if (headingWanted && focusViewHeading()) headingWanted = false;
  }

  function renderConn() {
    const conn = store.state.conn;
    if (conn?.status === 'open') everConnected = true;
    const { state, label } = connectionLabel(conn, everConnected);
    connBtn.dataset.state = state;
    connBtn.setAttribute('aria-label', `Connection: ${label}`);
    connBtn.title = state === 'reconnecting' ? 'Reconnecting — click to retry now' : label;
    replace(connBtn, h('span', { class: 'conn-dot' }), h('span', { class: 'conn-label', text: label }));
    document.documentElement.dataset.conn = state;
    renderBanner();
  }

  let bannerSig = '';
  function renderBanner() {
    const b = connectionBanner(store.state.service, connBtn.dataset.state);
    const presenceNote = store.state.presenceStale ? ' Presence unknown while reconnecting.' : '';
    const sig = b ? JSON.stringify([b, presenceNote]) : '';
    if (sig === bannerSig) return;
    bannerSig = sig;
    if (!b) {
      if (banner.contains(document.activeElement)) focusViewHeading();
      banner.hidden = true;
      delete banner.dataset.state;
      return;
    }
    // Only a banner that was not up waits: one already showing (the
    // service came back, the socket not yet) must not vanish and return.
    if (banner.hidden) banner.classList.toggle('delayed', b.delayed);
    else if (!b.delayed) banner.classList.remove('delayed');
    banner.hidden = false;
    banner.dataset.state = b.state;
    // Re-drawn only when the words change: every change is read out.
    keepFocus(banner, () => replace(banner, b.state === 'reconnecting' ? h('span', { class: 'conn-dot' }) : icon('alert'),
      h('span', { class: 'banner-text' }, h('strong', { text: b.title }), ' ', h('span', { text: b.text + presenceNote })),
      b.retry ? h('button', { type: 'button', class: 'btn btn-small btn-ghost', testid: 'banner-retry', onClick: () => ctx.retryConnection() }, 'Retry now') : null), () => main);
  }

  function renderNotice() {
    const must = !!api.user?.must_change_password;
    if (!must) {
      if (notice.contains(document.activeElement)) focusViewHeading();
      notice.hidden = true;
      notice.replaceChildren();
      return;
    }
    if (!notice.hidden) return;
    notice.hidden = false;
    notice.replaceChildren(icon('alert'),
      h('span', { class: 'banner-text' }, h('strong', { text: 'You are using a generated password.' }), ' ', h('span', { text: 'Choose your own so that only you know it.' })),
      h('a', { href: '/settings?focus=password', class: 'btn btn-small btn-primary', testid: 'password-notice-change' }, 'Change it now'));
  }

  function presenceUnknown() {
    return !!store.state.presenceStale;
  }

  // Room items are cached by room and rebuilt only when what they show
  // changes, so hover and focus survive the frequent list updates.
  const itemCache = new Map(); // room id → {sig, el}

  function roomItem(room, current) {
    const isDM = room.kind === 'dm';
    const isGroup = room.kind === 'group';
    const peer = isDM ? room.dm_user : null;
    const name = isDM || isGroup ? directTitle(ctx, room) : room.name;
    const mentions = room.is_member ? Number(room.mention_count ?? 0) : 0;
    const last = room.last_message;
    let prev = '';
    if (last) {
      const who = Number(last.user_id) === api.user?.id ? 'You' : displayName(profiles.get(last.user_id), last.username);
      prev = last.deleted ? `${who}: message deleted` : `${who}: ${preview(previewText({ ...last, body: plainText(last.body) }), 60)}`;
    }
    const unread = room.is_member ? Number(room.unread ?? 0) : 0;
    const online = !isDM ? false : presenceUnknown() ? 'unknown' : chat.isOnline(room.id, peer?.user_id) === true;
    const invited = !!store.state.invited?.[room.id];
    const time = last ? listTime(last.created_at) : '';
    const active = room.id === current;
    const sig = JSON.stringify([name, prev, unread, mentions, time, active, room.kind, online, invited, isDM ? profiles.avatarUrl(peer?.user_id) : '']);
    const hit = itemCache.get(room.id);
    if (hit && hit.sig === sig) return hit.el;
    const lead = isGroup ? groupAvatar(ctx, room, 'xs') : isDM
      ? avatar(ctx, peer?.user_id, name, 'xs', online)
      : h('span', { class: 'room-icon' }, icon(room.kind === 'private' ? 'lock' : 'hash'));
    const el = h('a', {
      href: `/rooms/${room.id}`, class: ['room-item', active && 'active', unread > 0 && 'has-unread', invited && 'is-new'],
      testid: 'room-item', dataset: { roomId: room.id, roomName: name, kind: room.kind, focusKey: `room-${room.id}` },
      'aria-current': active ? 'page' : null,
      'aria-label': `${isDM ? 'Direct message with ' : isGroup ? 'Group conversation with ' : ''}${name}${invited ? ', new: you were added' : ''}${unread ? `, ${unread} unread` : ''}${mentions ? `, ${mentions === 1 ? '1 mention' : `${mentions} mentions`}` : ''}${online === 'unknown' ? ', presence unknown while reconnecting' : ''}`,
    },
    lead,
    h('span', { class: 'room-text' }, h('span', { class: 'room-name', text: name }), prev ? h('span', { class: 'room-preview', testid: 'room-preview', text: prev }) : null),
    h('span', { class: 'room-meta' },
      last ? h('time', { class: 'room-time', datetime: last.created_at, text: time }) : null,
      invited ? h('span', { class: 'badge badge-new', testid: 'new-badge', text: 'New' }) : null,
      mentions > 0 ? h('span', { class: 'badge badge-mention', testid: 'mention-badge', title: mentions === 1 ? '1 mention' : `${mentions} mentions`, text: `@${mentions > 1 ? (mentions > 99 ? '99+' : mentions) : ''}` }) : null,
      unread > 0 ? h('span', { class: 'badge', testid: 'unread-badge', text: unread > 99 ? '99+' : String(unread) }) : null));
    itemCache.set(room.id, { sig, el });
    return el;
  }

  function section(title, body, action, testid) {
    const id = `section-${testid}`;
    return h('div', { class: 'room-section', testid, role: 'group', 'aria-labelledby': id },
      h('div', { class: 'section-head' }, h('span', { class: 'section-title', id, text: title }), action), body);
  }

  const threadsLink = threadsNavLink(ctx);
  const channelBody = h('div', { class: 'section-body' });
  const mentionsLink = h('a', { href: '/mentions', class: 'nav-link', testid: 'nav-mentions' }, h('span', { class: 'icon at-icon', 'aria-hidden': 'true', text: '@' }), h('span', { text: 'Mentions' }));
  const dmBody = h('div', { class: 'section-body' });
  roomList.append(
    section('Channels', channelBody, iconButton('plus', 'Create a room', { testid: 'new-room', class: 'section-action', onClick: () => createRoomDialog(ctx) }), 'channels'),
    h('a', { href: '/browse', class: 'nav-link', testid: 'browse-rooms' }, icon('compass'), h('span', { text: 'Browse rooms' })),
    threadsLink.el,
    mentionsLink,
    section('Direct messages', dmBody, iconButton('plus', 'New message', { testid: 'new-dm', class: 'section-action', onClick: () => newMessageDialog(ctx) }), 'dms'));

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
    const channels = rooms.filter((r) => r.kind !== 'dm' && r.kind !== 'group' && r.is_member);
    const dms = rooms.filter((r) => r.kind === 'dm' || r.kind === 'group');
    keepFocus(roomList, () => {
      fill(channelBody, channels.map((r) => roomItem(r, current)), 'No rooms yet');
      fill(dmBody, dms.map((r) => roomItem(r, current)), 'No conversations yet');
    });
    const live = new Set(rooms.map((r) => r.id));
    for (const id of itemCache.keys()) if (!live.has(id)) itemCache.delete(id);
    unreadTotal = rooms.reduce((n, r) => n + (r.is_member ? Number(r.unread ?? 0) : 0), 0);
    renderTitle();
    const mentionTotal = rooms.reduce((n, r) => n + (r.is_member ? Number(r.mention_count ?? 0) : 0), 0);
    if (mentionsLink.dataset.count !== String(mentionTotal)) {
      mentionsLink.dataset.count = String(mentionTotal);
      mentionsLink.setAttribute('aria-label', mentionTotal ? `Mentions, ${mentionTotal} unread` : 'Mentions');
      mentionsLink.querySelector('.badge')?.remove();
      if (mentionTotal) mentionsLink.append(h('span', { class: 'badge badge-mention', testid: 'mentions-total', 'aria-hidden': 'true', text: mentionTotal > 99 ? '99+' : String(mentionTotal) }));
    }
    mentionsLink.toggleAttribute('aria-current', false);
    if (location.pathname === '/mentions') mentionsLink.setAttribute('aria-current', 'page');
  }

  function renderUser() {
    const me = api.user;
    if (!me) return;
    const p = profiles.get(me.id);
    const name = displayName(p, me.username);
    const more = menuButton(iconButton('more', 'Account menu', { testid: 'account-menu' }));
    more.addEventListener('click', () => openMenu(more, [
      { label: 'Profile', icon: 'user', testid: 'nav-profile', onSelect: () => ctx.router.go('/profile') },
      { label: 'Settings', icon: 'sliders', testid: 'nav-settings', onSelect: () => ctx.router.go('/settings') },
      me.role === 'admin' ? { label: 'Admin', icon: 'shield', testid: 'nav-admin', onSelect: () => ctx.router.go('/admin') } : null,
      { label: 'Sign out', icon: 'logout', testid: 'logout', danger: true, onSelect: () => ctx.logout() },
    ]));
    keepFocus(userCard, () => replace(userCard,
      h('a', { href: '/profile', class: 'user-link', testid: 'me', 'aria-label': 'Your profile' },
        avatar(ctx, me.id, name, 'sm', store.state.conn?.status === 'open'),
        h('span', { class: 'user-text' }, h('span', { class: 'user-name', text: name }), h('span', { class: 'user-status', text: p?.status_text || `@${me.username}` }))),
      h('a', { href: '/settings', class: 'icon-btn', 'aria-label': 'Settings', title: 'Settings', testid: 'settings-link' }, icon('sliders')),
      me.role === 'admin' ? h('a', { href: '/admin', class: 'icon-btn', 'aria-label': 'Admin', title: 'Admin', testid: 'admin-link' }, icon('shield')) : null,
      more));
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
      if (dirty.has('user')) renderNotice();
      dirty.clear();
    });
  }
  const unsubs = [
    store.subscribe(['rooms', 'currentRoomId', 'presence', 'invited'], () => schedule('rooms')),
    store.subscribe(['presenceStale'], () => {
      document.documentElement.dataset.presence = presenceUnknown() ? 'unknown' : 'known';
      schedule('rooms');
      schedule('banner');
    }),
    store.subscribe(['profilesVersion'], () => { schedule('rooms'); schedule('user'); }),
    store.subscribe(['conn'], () => { schedule('conn'); schedule('user'); }),
    store.subscribe(['service'], () => schedule('banner')),
    store.subscribe(['session'], () => schedule('user')),
    threadsLink.unsubscribe,
  ];
  renderConn();
  renderRooms();
  renderUser();
  renderBanner();
  renderNotice();

  let view = null;
  /**
   * Shows a routed view, names it in the title and moves the focus to its
   * heading (so a screen reader says where the user now is) — unless the
   * view asks to place the focus itself (focus: 'self', a search hit).
   */
  function setView(v) {
    view?.destroy?.();
    view = v;
    replace(main, v.el);
    const h1 = v.el.querySelector('h1');
    setTitle(v.title ?? h1?.textContent.trim() ?? '');
    headingWanted = v.focus !== 'self';
    headingReady();
  }

  return {
    el, main, setView, setTitle, headingReady, toggleDrawer, closeDrawer,
    focusHeading: focusViewHeading,
    get view() { return view; },
    destroy() {
      view?.destroy?.();
      unsubs.forEach((u) => u());
      cancelAnimationFrame(frame);
      phone.removeEventListener('change', onPhoneChange);
    },
  };
}

/** The header every main view starts with (drawer button on phones). */
export function viewHeader(ctx, titleNodes, actions = []) {
  return h('header', { class: 'view-header' },
    iconButton('menu', 'Open menu', { class: 'drawer-toggle', testid: 'drawer-toggle', 'aria-haspopup': 'dialog', 'aria-controls': 'sidebar', onClick: () => ctx.shell.toggleDrawer() }),
    h('div', { class: 'view-title' }, titleNodes),
    h('div', { class: 'view-actions' }, actions));
}
