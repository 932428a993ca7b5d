// A room: header, timeline with scroll-back, live messages, edit/delete,
// reactions, typing, the composer, and the members panel with presence.

import { h, icon, iconButton, replace } from '../ui/dom.js';
import { avatar, confirmDialog, emptyState, openMenu, spinner, toastError } from '../ui/widgets.js';
import { displayName, plural, typingText } from '../lib/format.js';
import { continues, dayLabel, toDate, sameDay } from '../lib/timefmt.js';
import { QUICK_REACTIONS, messageElement, messageKey, pendingElement } from './message.js';
import { editRoomDialog, inviteDialog } from './dialogs.js';
import { viewHeader } from './shell.js';

const BOTTOM_SLACK = 48;

/**
 * Whether the members panel starts open: remembered per browser on wide
 * screens; on narrow ones it overlays the timeline, so it starts closed.
 */
function panelPref() {
  if (!window.matchMedia('(min-width: 1101px)').matches) return false;
  const v = localStorage.getItem('parley.members_panel');
  return v == null ? window.matchMedia('(min-width: 1200px)').matches : v === '1';
}

/** The room view for roomId; query.seq scrolls to (and highlights) a message. */
export function roomView(ctx, roomId, { seq } = {}) {
  const { chat, store, api, profiles } = ctx;
  const rid = Number(roomId);
  let editingId = null;
  let highlightSeq = seq ? Number(seq) : null;
  let markerSeq = null; // "new messages" divider goes after this seq
  let loadingOlder = false;
  let destroyed = false;
  let room = null;
  let panelOpen = panelPref();
  const nodes = new Map(); // key → {el, sig}
  let prevLastKey = null;

  const header = h('div', { class: 'room-header-slot' });
  const olderBtn = h('button', { type: 'button', class: 'btn btn-small btn-ghost load-older', testid: 'load-older', onClick: () => loadOlder() }, 'Load older messages');
  const start = h('div', { class: 'timeline-start' });
  const list = h('div', { class: 'messages', testid: 'message-list', role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions', 'aria-label': 'Messages' });
  const scroller = h('div', { class: 'scroller', tabindex: '0', 'aria-label': 'Message history' }, start, list);
  const jump = h('button', { type: 'button', class: 'jump-latest', hidden: true, onClick: () => scrollToBottom(true) }, icon('arrowDown'), 'New messages');
  const typing = h('div', { class: 'typing', testid: 'typing', 'aria-live': 'polite' });
  const composerSlot = h('div', { class: 'composer-slot' });
  const panel = h('aside', { class: 'members-panel', testid: 'member-panel', 'aria-label': 'Members', hidden: !panelOpen });
  const timeline = h('div', { class: 'timeline' }, scroller, jump, typing, composerSlot);
  const el = h('section', { class: 'room', testid: 'room-view', dataset: { roomId: rid } },
    header, h('div', { class: 'room-body' }, timeline, panel));
  el.classList.toggle('panel-open', panelOpen);

  // ---- header --------------------------------------------------------------

  function roomTitle(r) {
    if (r.kind === 'dm') {
      const peer = r.dm_user;
      return displayName(profiles.get(peer?.user_id), peer?.username ?? r.name);
    }
    return r.name;
  }

  function renderHeader() {
    if (!room) return;
    const r = chat.room(rid) ?? room;
    const me = api.user;
    const isOwner = r.role === 'owner' || me?.role === 'admin';
    const online = (store.state.presence[rid] ?? []).length;
    const title = roomTitle(r);
    const lead = r.kind === 'dm'
      ? avatar(ctx, r.dm_user?.user_id, title, 'sm', (store.state.presence[rid] ?? []).some((u) => Number(u.user_id) === Number(r.dm_user?.user_id)))
      : h('span', { class: 'title-icon' }, icon(r.kind === 'private' ? 'lock' : 'hash'));
    const membersBtn = h('button', {
      type: 'button', class: ['members-toggle', panelOpen && 'active'], testid: 'members-toggle', 'aria-pressed': panelOpen ? 'true' : 'false',
      'aria-label': `Members: ${r.member_count ?? 0}, ${online} online`, title: 'Show members',
      onClick: () => togglePanel(),
    }, icon('users'), h('span', { text: String(r.member_count ?? (store.state.members[rid] ?? []).length) }));
    const menuBtn = iconButton('more', 'Room options', { testid: 'room-menu' });
    menuBtn.addEventListener('click', () => openMenu(menuBtn, [
      r.is_member && r.kind !== 'dm' ? { label: 'Invite people', icon: 'userPlus', testid: 'invite-people', onSelect: () => inviteDialog(ctx, r) } : null,
      isOwner && r.kind !== 'dm' ? { label: 'Edit room', icon: 'edit', testid: 'edit-room', onSelect: () => editRoomDialog(ctx, r) } : null,
      r.is_member && !r.is_default && r.kind !== 'dm' ? { label: 'Leave room', icon: 'door', testid: 'leave-room', onSelect: () => leave(r) } : null,
      isOwner && !r.is_default && r.kind !== 'dm' ? { label: 'Delete room', icon: 'trash', testid: 'delete-room', danger: true, onSelect: () => removeRoom(r) } : null,
      { label: panelOpen ? 'Hide members' : 'Show members', icon: 'users', onSelect: () => togglePanel() },
    ]));
    replace(header, viewHeader(ctx, [
      lead,
      h('div', { class: 'title-text' },
        h('h1', { class: 'room-title', testid: 'room-title', text: title }),
        r.description ? h('p', { class: 'room-topic', text: r.description }) : r.kind === 'dm' ? h('p', { class: 'room-topic', text: `@${r.dm_user?.username ?? ''}` }) : null),
    ], [membersBtn, menuBtn]));
  }

  async function leave(r) {
    if (!(await confirmDialog(`Leave ${r.name}?`, r.kind === 'private' ? 'You will need an invitation to come back.' : 'You can join again at any time.', 'Leave room', true))) return;
    try {
      await chat.leave(r.id);
      ctx.router.go('/');
    } catch (err) {
      toastError(err);
    }
  }

  async function removeRoom(r) {
    if (!(await confirmDialog(`Delete ${r.name}?`, 'The room and its history will be gone for everyone.', 'Delete room', true))) return;
    try {
      await chat.deleteRoom(r.id);
      ctx.router.go('/');
    } catch (err) {
      toastError(err);
    }
  }

  function togglePanel() {
    panelOpen = !panelOpen;
    if (window.matchMedia('(min-width: 1101px)').matches) localStorage.setItem('parley.members_panel', panelOpen ? '1' : '0');
    panel.hidden = !panelOpen;
    el.classList.toggle('panel-open', panelOpen);
    renderHeader();
    renderPanel();
  }

  // ---- timeline ------------------------------------------------------------

  function isAtBottom() {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < BOTTOM_SLACK;
  }

  function scrollToBottom(smooth = false) {
    scroller.scrollTo({ top: scroller.scrollHeight, behavior: smooth ? 'smooth' : 'instant' });
    jump.hidden = true;
    updateReading();
  }

  function updateReading() {
    const reading = !destroyed && isAtBottom() && document.visibilityState === 'visible';
    if (reading) {
      chat.readingRoom = rid;
      chat.markRead(rid);
      jump.hidden = true;
    } else if (chat.readingRoom === rid) {
      chat.readingRoom = null;
    }
  }

  function canDelete(msg) {
    const r = chat.room(rid);
    return msg.user_id === api.user?.id || r?.role === 'owner' || api.user?.role === 'admin';
  }

  function messageOptions(msg, prev) {
    const name = displayName(profiles.get(msg.user_id), msg.username);
    const mine = msg.user_id === api.user?.id;
    return {
      continued: continues(prev, msg) && !prev?.deleted && !msg.deleted,
      mine,
      name,
      avatar: profiles.get(msg.user_id)?.avatar_url ?? '',
      canEdit: mine && !msg.deleted,
      canDelete: canDelete(msg),
      editing: editingId === msg.id,
      highlight: highlightSeq === msg.seq,
      onOpenUser: (btn) => userMenu(btn, msg.user_id, msg.username),
      onReact: (btn) => reactionPicker(btn, msg),
      onToggleReaction: (emoji) => chat.toggleReaction(chat.log(rid).get(msg.id) ?? msg, emoji).catch(toastError),
      onEdit: () => startEdit(msg.id),
      onDelete: () => deleteMessage(msg),
      onSaveEdit: (body) => saveEdit(msg, body),
      onCancelEdit: () => stopEdit(),
    };
  }

  function desiredNodes() {
    const log = chat.log(rid);
    const msgs = log.messages();
    const out = [];
    let prev = null;
    const meId = api.user?.id;
    let markerPlaced = false;
    for (const m of msgs) {
      const d = toDate(m.created_at);
      const pd = prev ? toDate(prev.created_at) : null;
      if (d && (!pd || !sameDay(pd, d))) {
        const label = dayLabel(d);
        out.push({ key: `day:${d.toDateString()}`, sig: label, build: () => h('div', { class: 'day-sep', role: 'separator' }, h('span', { text: label })) });
        prev = null;
      }
      if (!markerPlaced && markerSeq != null && m.seq > markerSeq && m.user_id !== meId) {
        markerPlaced = true;
        out.push({ key: 'new-marker', sig: 'new', build: () => h('div', { class: 'new-sep', testid: 'new-messages-marker', role: 'separator' }, h('span', { text: 'New' })) });
        prev = null;
      }
      const o = messageOptions(m, prev);
      out.push({ key: `m:${m.id}`, sig: messageKey(m, o), build: () => messageElement(ctx, m, o) });
      prev = m;
    }
    const myName = displayName(profiles.get(meId), api.user?.username);
    for (const e of chat.outbox.forRoom(rid)) {
      out.push({
        key: `p:${e.client_msg_id}`, sig: `${e.state}:${e.error}`,
        build: () => pendingElement(ctx, e, myName, { onRetry: () => chat.retrySend(e.client_msg_id), onDiscard: () => chat.discardSend(e.client_msg_id) }),
      });
    }
    return out;
  }

  // Keyed reconciliation: unchanged messages keep their elements (and focus,
  // selection, loaded avatars); only changed ones are rebuilt.
  function renderMessages({ forceBottom = false } = {}) {
    if (destroyed || !room) return;
    const log = chat.log(rid);
    const wasAtBottom = forceBottom || isAtBottom();
    let anchor = null;
    let anchorTop = 0;
    if (!wasAtBottom) {
      const top = scroller.getBoundingClientRect().top;
      for (const child of list.children) {
        const r = child.getBoundingClientRect();
        if (r.bottom > top) {
          anchor = child;
          anchorTop = r.top;
          break;
        }
      }
    }
    const want = desiredNodes();
    const keep = new Set(want.map((w) => w.key));
    for (const [k, n] of nodes) {
      if (!keep.has(k)) {
        n.el.remove();
        nodes.delete(k);
      }
    }
    let cursor = list.firstChild;
    for (const w of want) {
      let n = nodes.get(w.key);
      if (n && n.sig !== w.sig) {
        const fresh = w.build();
        if (cursor === n.el) cursor = fresh;
        n.el.replaceWith(fresh);
        n.el = fresh;
        n.sig = w.sig;
      } else if (!n) {
        n = { el: w.build(), sig: w.sig };
        nodes.set(w.key, n);
      }
      if (n.el !== cursor) list.insertBefore(n.el, cursor);
      cursor = n.el.nextSibling;
    }
    const lastKey = want.at(-1)?.key ?? null;
    const appended = lastKey !== prevLastKey && prevLastKey !== null;
    prevLastKey = lastKey;
    replace(start, log.hasMoreBefore
      ? (loadingOlder ? spinner('Loading older messages') : olderBtn)
      : h('div', { class: 'room-intro' },
        h('div', { class: 'intro-icon' }, icon(room.kind === 'dm' ? 'message' : room.kind === 'private' ? 'lock' : 'hash')),
        h('h2', { text: room.kind === 'dm' ? roomTitle(room) : `Welcome to ${room.name}` }),
        h('p', { text: room.kind === 'dm' ? 'This is the start of your direct message history.' : room.description || 'This is the very beginning of the room.' })));
    if (wasAtBottom) {
      scroller.scrollTop = scroller.scrollHeight;
    } else if (anchor?.isConnected) {
      scroller.scrollTop += anchor.getBoundingClientRect().top - anchorTop;
      if (appended) jump.hidden = false;
    }
    updateReading();
  }

  async function loadOlder() {
    if (loadingOlder || destroyed) return;
    loadingOlder = true;
    renderMessages();
    try {
      await chat.loadOlder(rid);
    } catch (err) {
      toastError(err);
    } finally {
      loadingOlder = false;
      renderMessages();
    }
  }

  // Arrow keys move between messages; a focused message shows its actions,
  // which Tab then reaches.
  scroller.addEventListener('keydown', (e) => {
    if (e.key !== 'ArrowUp' && e.key !== 'ArrowDown') return;
    if (e.target.closest('textarea, input, .msg-actions, .reactions')) return;
    const msgs = [...list.querySelectorAll('.msg[data-id]')];
    if (msgs.length === 0) return;
    e.preventDefault();
    const cur = e.target.closest('.msg');
    let i = cur ? msgs.indexOf(cur) : msgs.length;
    i = e.key === 'ArrowUp' ? Math.max(0, i - 1) : Math.min(msgs.length - 1, i + 1);
    msgs[i].focus();
    msgs[i].scrollIntoView({ block: 'nearest' });
  });

  scroller.addEventListener('scroll', () => {
    if (scroller.scrollTop < 300 && chat.log(rid).hasMoreBefore && !loadingOlder && room) loadOlder();
    if (isAtBottom()) jump.hidden = true;
    updateReading();
  }, { passive: true });

  // ---- message actions -----------------------------------------------------

  function startEdit(id) {
    editingId = id;
    renderMessages();
  }

  function stopEdit() {
    editingId = null;
    renderMessages();
    textarea?.focus();
  }

  async function saveEdit(msg, body) {
    try {
      await chat.edit(msg.id, body);
      stopEdit();
    } catch (err) {
      toastError(err);
    }
  }

  async function deleteMessage(msg) {
    if (!(await confirmDialog('Delete message?', 'It will be removed for everyone. This cannot be undone.', 'Delete', true))) return;
    try {
      await chat.deleteMessage(msg.id, rid);
    } catch (err) {
      toastError(err);
    }
  }

  function reactionPicker(anchor, msg) {
    document.querySelector('.emoji-picker')?.remove();
    const picker = h('div', { class: 'emoji-picker', role: 'dialog', 'aria-label': 'Pick a reaction', testid: 'emoji-picker' });
    const close = () => {
      picker.remove();
      document.removeEventListener('pointerdown', outside, true);
    };
    const outside = (e) => {
      if (!picker.contains(e.target)) close();
    };
    for (const emoji of QUICK_REACTIONS) {
      picker.append(h('button', {
        type: 'button', class: 'emoji', testid: 'emoji-option', dataset: { emoji }, 'aria-label': `React with ${emoji}`, text: emoji,
        onClick: () => {
          close();
          chat.toggleReaction(chat.log(rid).get(msg.id) ?? msg, emoji).catch(toastError);
        },
      }));
    }
    picker.addEventListener('keydown', (e) => {
      const buttons = [...picker.querySelectorAll('button')];
      const i = buttons.indexOf(document.activeElement);
      if (e.key === 'Escape') { close(); anchor.focus(); }
      else if (e.key === 'ArrowRight') buttons[(i + 1) % buttons.length].focus();
      else if (e.key === 'ArrowLeft') buttons[(i - 1 + buttons.length) % buttons.length].focus();
    });
    document.body.append(picker);
    const r = anchor.getBoundingClientRect();
    const w = picker.offsetWidth;
    picker.style.left = `${Math.max(8, Math.min(window.innerWidth - w - 8, r.right - w))}px`;
    const top = r.top - picker.offsetHeight - 6;
    picker.style.top = `${top > 8 ? top : r.bottom + 6}px`;
    picker.querySelector('button').focus();
    document.addEventListener('pointerdown', outside, true);
  }

  function userMenu(anchor, userId, username) {
    const me = api.user?.id === Number(userId);
    const r = chat.room(rid);
    openMenu(anchor, [
      { label: 'View profile', icon: 'user', testid: 'view-profile', onSelect: () => ctx.router.go(me ? '/profile' : `/users/${userId}`) },
      me ? null : {
        label: `Message ${username}`, icon: 'message', testid: 'message-user',
        onSelect: async () => {
          try {
            const dm = await chat.openDM(userId);
            ctx.router.go(`/rooms/${dm.id}`);
          } catch (err) {
            toastError(err);
          }
        },
      },
      !me && r?.kind === 'private' && (r.role === 'owner' || api.user?.role === 'admin') ? {
        label: 'Remove from room', icon: 'x', danger: true, testid: 'remove-member',
        onSelect: () => chat.removeMember(rid, userId).catch(toastError),
      } : null,
    ]);
  }

  // ---- composer ------------------------------------------------------------

  let textarea = null;
  function renderComposer() {
    const r = chat.room(rid) ?? room;
    if (!r) return;
    if (r.archived) {
      replace(composerSlot, h('div', { class: 'composer-note', text: 'This room is archived: it can be read but not written to.' }));
      textarea = null;
      return;
    }
    if (!r.is_member) {
      replace(composerSlot, h('div', { class: 'join-bar' },
        h('span', {}, 'You are viewing ', h('strong', { text: r.name }), '. Join to take part.'),
        h('button', {
          type: 'button', class: 'btn btn-primary', testid: 'join-room',
          onClick: async (e) => {
            e.currentTarget.disabled = true;
            try {
              await chat.join(rid);
            } catch (err) {
              toastError(err);
              e.currentTarget.disabled = false;
            }
          },
        }, 'Join room')));
      textarea = null;
      return;
    }
    if (textarea?.isConnected) return;
    const title = roomTitle(r);
    textarea = h('textarea', {
      class: 'composer-input', testid: 'composer', rows: 1, maxlength: 4000, enterkeyhint: 'send',
      placeholder: `Message ${r.kind === 'dm' ? title : (r.kind === 'private' ? '' : '#') + r.name}`, 'aria-label': `Message ${title}`,
    });
    textarea.value = ctx.drafts.get(rid) ?? '';
    const send = h('button', { type: 'submit', class: 'send-btn', testid: 'send', 'aria-label': 'Send message', title: 'Send (Enter)' }, icon('send'));
    const form = h('form', {
      class: 'composer',
      onSubmit: (e) => {
        e.preventDefault();
        submit();
      },
    }, textarea, send);
    const grow = () => {
      textarea.style.height = 'auto';
      textarea.style.height = `${Math.min(textarea.scrollHeight, 200)}px`;
      send.disabled = textarea.value.trim() === '';
    };
    textarea.addEventListener('input', () => {
      ctx.drafts.set(rid, textarea.value);
      grow();
      if (textarea.value.trim()) chat.typing(rid);
    });
    textarea.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        submit();
      } else if (e.key === 'ArrowUp' && textarea.value === '') {
        const own = [...chat.log(rid).messages()].reverse().find((m) => m.user_id === api.user?.id && !m.deleted);
        if (own) {
          e.preventDefault();
          startEdit(own.id);
        }
      }
    });
    function submit() {
      const body = textarea.value;
      if (body.trim() === '') return;
      chat.send(rid, body);
      textarea.value = '';
      ctx.drafts.delete(rid);
      grow();
      renderMessages({ forceBottom: true });
    }
    replace(composerSlot, form, h('div', { class: 'composer-hint', text: 'Enter to send · Shift+Enter for a new line' }));
    queueMicrotask(grow);
  }

  function renderTyping() {
    const names = chat.typingIn(rid).map((t) => displayName(profiles.get(t.user_id), t.username));
    const text = typingText(names);
    typing.textContent = '';
    typing.classList.toggle('active', !!text);
    if (text) typing.append(h('span', { class: 'typing-dots', 'aria-hidden': 'true' }, h('i'), h('i'), h('i')), h('span', { text }));
  }

  // ---- members panel -------------------------------------------------------

  function renderPanel() {
    if (!panelOpen) return;
    const r = chat.room(rid) ?? room;
    const members = store.state.members[rid];
    const online = new Set((store.state.presence[rid] ?? []).map((u) => Number(u.user_id)));
    if (!members) {
      replace(panel, spinner('Loading members'));
      return;
    }
    const sorted = [...members].sort((a, b) => {
      const ao = online.has(Number(a.user_id)) ? 0 : 1;
      const bo = online.has(Number(b.user_id)) ? 0 : 1;
      if (ao !== bo) return ao - bo;
      return String(a.username).localeCompare(String(b.username));
    });
    const onlineCount = sorted.filter((m) => online.has(Number(m.user_id))).length;
    const item = (m) => {
      const uid = Number(m.user_id);
      const name = displayName(profiles.get(uid), m.username);
      const isOn = online.has(uid);
      const btn = h('button', {
        type: 'button', class: ['member', isOn && 'online'], testid: 'member-item', dataset: { userId: uid, username: m.username, online: isOn ? '1' : '0' },
        'aria-label': `${name}${isOn ? ', online' : ', offline'}${m.role === 'owner' ? ', owner' : ''}`,
      }, avatar(ctx, uid, name, 'sm', isOn), h('span', { class: 'member-text' }, h('span', { class: 'member-name', text: name }), profiles.get(uid)?.status_text ? h('span', { class: 'member-status', text: profiles.get(uid).status_text }) : null),
      m.role === 'owner' ? h('span', { class: 'role-badge', text: 'owner' }) : null);
      btn.addEventListener('click', () => userMenu(btn, uid, m.username));
      return h('li', {}, btn);
    };
    replace(panel,
      h('div', { class: 'panel-head' }, h('h2', { text: 'Members' }), h('span', { class: 'muted', text: `${onlineCount} online · ${plural(sorted.length, 'member')}` }),
        iconButton('x', 'Hide members', { class: 'panel-close', onClick: () => togglePanel() })),
      r?.is_member && r.kind !== 'dm' ? h('button', { type: 'button', class: 'btn btn-ghost btn-block invite-btn', testid: 'invite', onClick: () => inviteDialog(ctx, r) }, icon('userPlus'), 'Invite people') : null,
      h('ul', { class: 'member-list', testid: 'member-list' }, sorted.map(item)));
  }

  // ---- wiring --------------------------------------------------------------

  let frame = 0;
  const dirty = new Set();
  function schedule(...parts) {
    parts.forEach((p) => dirty.add(p));
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      if (destroyed) return;
      if (dirty.has('header')) renderHeader();
      if (dirty.has('messages')) renderMessages();
      if (dirty.has('composer')) renderComposer();
      if (dirty.has('typing')) renderTyping();
      if (dirty.has('panel')) renderPanel();
      dirty.clear();
    });
  }

  let lastLogVersion = -1;
  const unsubs = [
    store.subscribe(['logVersions'], (s) => {
      const v = s.logVersions[rid] ?? 0;
      if (v !== lastLogVersion) {
        lastLogVersion = v;
        schedule('messages');
      }
    }),
    store.subscribe(['rooms'], () => {
      const r = chat.room(rid);
      if (room && !r && !destroyed) {
        // Deleted, or we were removed from a private room.
        ctx.router.go('/');
        return;
      }
      schedule('header', 'composer', 'panel');
    }),
    store.subscribe(['typing'], () => schedule('typing')),
    store.subscribe(['presence', 'members'], () => schedule('header', 'panel')),
    store.subscribe(['profilesVersion'], () => schedule('header', 'messages', 'panel', 'typing')),
  ];
  const onVisible = () => updateReading();
  document.addEventListener('visibilitychange', onVisible);
  const onKey = (e) => {
    if (e.key === 'Escape' && editingId != null) stopEdit();
  };
  el.addEventListener('keydown', onKey);

  replace(list, h('div', { class: 'timeline-loading' }, spinner('Loading messages')));
  (async () => {
    try {
      room = await chat.openRoom(rid);
      if (destroyed) return;
      markerSeq = (chat.room(rid)?.unread ?? 0) > 0 ? chat.room(rid).last_read_seq ?? null : null;
      list.replaceChildren();
      renderHeader();
      renderComposer();
      renderPanel();
      renderTyping();
      if (highlightSeq != null) {
        await chat.reveal(rid, highlightSeq).catch(() => false);
        if (destroyed) return;
        renderMessages();
        const target = list.querySelector(`.msg[data-seq="${highlightSeq}"]`);
        if (target) {
          target.scrollIntoView({ block: 'center' });
          target.focus({ preventScroll: true });
        }
      } else {
        renderMessages({ forceBottom: true });
      }
      // Fill the screen when the first page is short.
      for (let i = 0; i < 3 && !destroyed && scroller.scrollHeight <= scroller.clientHeight && chat.log(rid).hasMoreBefore; i++) await loadOlder();
      if (highlightSeq == null) textarea?.focus({ preventScroll: true });
    } catch (err) {
      if (destroyed) return;
      if (err.status === 404 || err.status === 403) {
        replace(el, viewHeader(ctx, [h('h1', { class: 'room-title', text: 'Room not found' })]),
          h('div', { class: 'room-missing', testid: 'room-missing' }, emptyState('lock', 'This room does not exist or is private.', 'Ask a member to invite you, or pick another room.', h('a', { href: '/browse', class: 'btn btn-primary' }, 'Browse rooms'))));
      } else {
        replace(list, emptyState('alert', 'Could not load this room.', err.message, h('button', { type: 'button', class: 'btn btn-primary', onClick: () => ctx.router.go(`/rooms/${rid}`) }, 'Try again')));
      }
    }
  })();

  return {
    el,
    roomId: rid,
    /** Scrolls to another message of the same room (search result). */
    reveal(s) {
      highlightSeq = Number(s);
      chat.reveal(rid, highlightSeq).then(() => {
        renderMessages();
        list.querySelector(`.msg[data-seq="${highlightSeq}"]`)?.scrollIntoView({ block: 'center' });
      }, () => {});
    },
    destroy() {
      destroyed = true;
      cancelAnimationFrame(frame);
      unsubs.forEach((u) => u());
      document.removeEventListener('visibilitychange', onVisible);
      document.querySelector('.emoji-picker')?.remove();
      if (chat.readingRoom === rid) chat.readingRoom = null;
      chat.closeRoom(rid);
    },
  };
}
