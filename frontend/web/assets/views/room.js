// A room: header, timeline with scroll-back, live messages, edit/delete,
// reactions, typing, the composer, and the members panel with presence.

import { h, icon, iconButton, replace } from '../ui/dom.js';
import { avatar, confirmDialog, emptyState, menuButton, openMenu, spinner, toastError } from '../ui/widgets.js';
import { focusKey, keepFocus, rememberFocus, trapTab } from '../ui/focus.js';
import { botTag } from '../ui/bottag.js';
import { displayName, plural, typingText } from '../lib/format.js';
import { continues, dayLabel, toDate, sameDay } from '../lib/timefmt.js';
import { RovingFocus } from '../lib/roving.js';
import { QUICK_REACTIONS, messageElement, pendingElement, sameLook } from './message.js';
import { editRoomDialog, inviteDialog } from './dialogs.js';
import { webhooksDialog } from './webhooks.js';
import { viewHeader } from './shell.js';
import { copyMessageLink, threadLook, threadPane } from './thread.js';
import { isReply, messageParam, repliersByRoot } from '../lib/threads.js';
import { mentionAutocomplete } from '../ui/mentionbox.js';
import { composerHint } from '../ui/formathint.js';
import { directLead, directTitle, groupHandles, isDirect } from './direct.js';
import { attachments } from './files.js';
import { roomPins } from './pins.js';
import { whosOnlineDialog } from './online.js';

const BOTTOM_SLACK = 48;
// The list renders the newest WINDOW messages the client holds, and STEP
// more each time the reader scrolls to its top: a room whose history was
// scrolled far back (thousands of messages in memory) still opens, receives
// and sends in a few milliseconds.
const WINDOW = 40;
const STEP = 60;
// Opening renders the newest FIRST at once (a screenful) and the rest of
// the window FIRST at a time in tasks of their own, so none takes long.
const FIRST = 15;
// Members shown at a time in a big room's panel (see renderPanel).
const PANEL_ROWS = 100;
// The controls inside a message that join the Tab order with it.
const INNER = 'a[href], button, textarea, .md-pre'; // .md-pre: a code block scrolls sideways by keyboard
const wide = () => window.matchMedia('(min-width: 1101px)').matches;

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
export function roomView(ctx, roomId, { seq, thread: threadParam, m: linkParam } = {}) {
  const { chat, store, api, profiles } = ctx;
  const rid = Number(roomId);
  let editingId = null;
  let highlightSeq = seq ? Number(seq) : null;
  let markerSeq = null; // "new messages" divider goes after this seq
  let loadingOlder = false;
  let destroyed = false;
  let room = null;
  let panelOpen = panelPref();
  const nodes = new Map(); // key → {el, msg, look} or {el, sig}
  const pendingNodes = new Map(); // client_msg_id → {el, sig}
  let prevLastKey = null;
  let firstSeq = null; // the oldest seq rendered (see WINDOW)
  let editFrom = null; // 'composer' or 'message': where the focus goes after an edit
  let headerShown = false;
  const roving = new RovingFocus(INNER);
  // Threads (views/thread.js): the open thread pane; a message link (?m=)
  // waits for its message before the timeline scrolls or the pane opens.
  let pane = null;
  let repliers = new Map();
  let linkPending = messageParam(linkParam) != null;
  let linked = false; // highlightSeq comes from a message link: fetched around it

  const header = h('div', { class: 'room-header-slot' });
  const olderBtn = h('button', { type: 'button', class: 'btn btn-small btn-ghost load-older', testid: 'load-older', onClick: () => showOlder() }, 'Load older messages');
  const start = h('div', { class: 'timeline-start' });
  // A feed of articles rather than a live log: history pages and re-renders
  // must not speak. New messages are announced once each through the app's
  // announcer (lib/announcer.js); aria-busy marks the feed while it loads.
  const list = h('div', { class: 'messages', testid: 'message-list', role: 'feed', 'aria-label': 'Messages', 'aria-busy': 'true' });
  // One's own messages until the server has them: outside the feed.
  const outboxEl = h('div', { class: 'outbox', testid: 'outbox' });
  const scroller = h('div', { class: 'scroller' }, start, list, outboxEl);
  const jump = h('button', { type: 'button', class: 'jump-latest', testid: 'jump-latest', hidden: true, onClick: () => (chat.log(rid).detached ? toLatest() : scrollToBottom(true)) }, icon('arrowDown'), 'New messages');
  const typing = h('div', { class: 'typing', testid: 'typing', 'aria-live': 'polite' });
  const composerSlot = h('div', { class: 'composer-slot' });
  const panel = h('aside', { class: 'members-panel', id: `members-${rid}`, testid: 'member-panel', 'aria-label': 'Members', hidden: !panelOpen });
  const timeline = h('div', { class: 'timeline' }, scroller, jump, typing, composerSlot);
  const el = h('section', { class: 'room', testid: 'room-view', dataset: { roomId: rid } },
    header, h('div', { class: 'room-body' }, timeline, panel));
  el.classList.toggle('panel-open', panelOpen);
  // Pins (views/pins.js): the header's button and the pane it opens, one
  // side pane at a time with the thread's.
  const pinsCtl = roomPins(ctx, rid, { roomEl: el, before: panel, onOpen: () => closeThreadPane() });

  // ---- header --------------------------------------------------------------

  function roomTitle(r) {
    return directTitle(ctx, r);
  }

  function renderHeader() {
    if (!room && !chat.room(rid)) return;
    keepFocus(header, drawHeader);
    ctx.shell?.setTitle(roomTitle(chat.room(rid) ?? room));
    if (!headerShown) {
      headerShown = true;
      if (highlightSeq == null && !linkPending) ctx.shell?.headingReady();
    }
  }

  // The header is built once and then updated in place: presence and
  // member counts change often, and a rebuilt heading or button would be
  // announced again to whoever has the focus on it.
  let hdr = null;
  function drawHeader() {
    const r = chat.room(rid) ?? room;
    const unknown = !!store.state.presenceStale;
    const onlineCount = chat.onlineCount(rid);
    const title = roomTitle(r);
    if (!hdr) {
      const h1 = h('h1', { class: 'room-title', testid: 'room-title', tabindex: '-1' });
      const topic = h('p', { class: 'room-topic' });
      const lead = h('span', { class: 'title-lead' });
      const count = h('span');
      // "N online" from the room's presence count (the whole room, however
      // big); read as part of the button's label, never announced by itself.
      const onlineEl = h('span', { class: 'online-count', testid: 'online-count', 'aria-hidden': 'true' });
      const membersBtn = h('button', { type: 'button', class: 'members-toggle', testid: 'members-toggle', 'aria-controls': panel.id, onClick: () => togglePanel() }, icon('users'), count, onlineEl);
      const menuBtn = menuButton(iconButton('more', 'Room options', { testid: 'room-menu' }));
      menuBtn.addEventListener('click', () => openMenu(menuBtn, roomMenu()));
      replace(header, viewHeader(ctx, [lead, h('div', { class: 'title-text' }, h1, topic)], [pinsCtl.button, membersBtn, menuBtn]));
      hdr = { h1, topic, lead, count, onlineEl, membersBtn, leadSig: null };
    }
    if (hdr.h1.textContent !== title) hdr.h1.textContent = title;
    const topic = r.description || (r.kind === 'dm' ? `@${r.dm_user?.username ?? ''}` : r.kind === 'group' ? `Group conversation: ${groupHandles(r)}` : '');
    hdr.topic.textContent = topic;
    hdr.topic.hidden = !topic;
    const peerOnline = r.kind === 'dm' && (unknown ? 'unknown' : chat.isOnline(rid, r.dm_user?.user_id) === true);
    const leadSig = `${r.kind}:${title}:${peerOnline}`;
    if (hdr.leadSig !== leadSig) {
      hdr.leadSig = leadSig;
      replace(hdr.lead, isDirect(r)
        ? directLead(ctx, r, title, 'sm', peerOnline)
        : h('span', { class: 'title-icon' }, icon(r.kind === 'private' ? 'lock' : 'hash')));
    }
    const b = hdr.membersBtn;
    b.classList.toggle('active', panelOpen);
    b.setAttribute('aria-pressed', panelOpen ? 'true' : 'false');
    b.setAttribute('aria-label', `Members: ${r.member_count ?? 0}, ${unknown ? 'presence unknown while reconnecting' : `${onlineCount ?? 0} online`}`);
    b.title = panelOpen ? 'Hide members' : 'Show members';
    hdr.count.textContent = String(r.member_count ?? (store.state.members[rid] ?? []).length);
    const onlineText = unknown || onlineCount == null || r.kind === 'dm' ? '' : `${onlineCount.toLocaleString()} online`;
    if (hdr.onlineEl.textContent !== onlineText) hdr.onlineEl.textContent = onlineText;
    hdr.onlineEl.hidden = !onlineText;
  }

  function roomMenu() {
    const r = chat.room(rid) ?? room;
    const isOwner = r.role === 'owner' || api.user?.role === 'admin';
    return [
      r.is_member && !isDirect(r) ? { label: 'Invite people', icon: 'userPlus', testid: 'invite-people', onSelect: () => inviteDialog(ctx, r) } : null,
      isOwner && !isDirect(r) ? { label: 'Edit room', icon: 'edit', testid: 'edit-room', onSelect: () => editRoomDialog(ctx, r) } : null,
      r.is_member && !isDirect(r) ? { label: 'Integrations', icon: 'send', testid: 'room-integrations', onSelect: () => webhooksDialog(ctx, r) } : null,
      r.is_member && !r.is_default && r.kind !== 'dm' ? { label: r.kind === 'group' ? 'Leave conversation' : 'Leave room', icon: 'door', testid: 'leave-room', onSelect: () => leave(r) } : null,
      isOwner && !r.is_default && !isDirect(r) ? { label: 'Delete room', icon: 'trash', testid: 'delete-room', danger: true, onSelect: () => removeRoom(r) } : null,
      { label: panelOpen ? 'Hide members' : 'Show members', icon: 'users', onSelect: () => togglePanel() },
    ];
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

  function togglePanel(open = !panelOpen, { remember = true } = {}) {
    if (open === panelOpen) return;
    const fromPanel = panel.contains(document.activeElement);
    panelOpen = open;
    if (remember && wide()) localStorage.setItem('parley.members_panel', panelOpen ? '1' : '0');
    panel.hidden = !panelOpen;
    el.classList.toggle('panel-open', panelOpen);
    renderHeader();
    renderPanel();
    // Closed from inside (its ✕, Escape): the focus goes back to the toggle.
    if (fromPanel) header.querySelector('[data-testid=members-toggle]')?.focus();
  }
  // Zooming in (or a narrower window) turns the panel into an overlay over
  // the messages: it closes rather than covering them.
  const narrowQuery = window.matchMedia('(max-width: 1100px)');
  const onNarrow = () => {
    if (narrowQuery.matches && panelOpen) togglePanel(false, { remember: false });
  };
  narrowQuery.addEventListener('change', onNarrow);
  panel.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && !wide() && !e.defaultPrevented) {
      e.preventDefault();
      togglePanel(false);
    }
  });

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

  function lookOf(msg, prev) {
    const mine = msg.user_id === api.user?.id;
    return {
      continued: continues(prev, msg) && !prev?.deleted && !msg.deleted,
      name: displayName(profiles.get(msg.user_id), msg.username),
      bot: Boolean(profiles.get(msg.user_id)?.is_bot),
      avatar: profiles.get(msg.user_id)?.avatar_url ?? '',
      editing: editingId === msg.id,
      canEdit: mine && !msg.deleted,
      canDelete: canDelete(msg),
      highlight: highlightSeq === msg.seq,
      thread: threadLook(ctx, msg, repliers.get(msg.id)),
      threadSig: `${msg.reply_count ?? 0}|${msg.last_reply_at ?? ''}|${(repliers.get(msg.id) ?? []).join(',')}`,
      canPin: pinsCtl.canPin(),
    };
  }

  // What the feed should hold, oldest first: day separators, the "new"
  // marker and the messages from firstSeq on.
  function desiredNodes() {
    const log = chat.log(rid);
    const all = log.messages();
    if (all.length === 0) return [];
    const lo = all[0].seq;
    if (firstSeq == null) firstSeq = Math.max(lo, all[all.length - 1].seq - FIRST + 1);
    firstSeq = Math.max(firstSeq, lo);
    const msgs = firstSeq > lo ? all.slice(firstSeq - lo) : all;
    const out = [];
    let prev = firstSeq > lo ? all[firstSeq - lo - 1] : null;
    let prevDay = prev ? toDate(prev.created_at) : null;
    const meId = api.user?.id;
    let markerPlaced = false;
    repliers = repliersByRoot(all);
    if (prev && isReply(prev)) prev = null;
    for (const m of msgs) {
      if (isReply(m)) continue; // replies live in their thread

      const d = toDate(m.created_at);
      if (d && (!prevDay || !sameDay(prevDay, d) || out.length === 0)) {
        const label = dayLabel(d);
        out.push({ key: `day:${d.toDateString()}`, sig: label, build: () => h('div', { class: 'day-sep', role: 'separator', 'aria-label': label }, h('span', { text: label, 'aria-hidden': 'true' })) });
        if (!prevDay || !sameDay(prevDay, d)) prev = null;
      }
      prevDay = d ?? prevDay;
      if (!markerPlaced && markerSeq != null && m.seq > markerSeq && m.user_id !== meId) {
        markerPlaced = true;
        out.push({ key: 'new-marker', sig: 'new', build: () => h('div', { class: 'new-sep', testid: 'new-messages-marker', role: 'separator', 'aria-label': 'New messages' }, h('span', { text: 'New', 'aria-hidden': 'true' })) });
        prev = null;
      }
      out.push({ key: `m:${m.id}`, msg: m, look: lookOf(m, prev) });
      prev = m;
    }
    return out;
  }

  function buildMessage(w) {
    const msg = w.msg;
    const o = {
      ...w.look,
      mine: msg.user_id === api.user?.id,
      onOpenUser: (btn) => userMenu(btn, msg.user_id, msg.username),
      onReact: (btn) => reactionPicker(btn, msg),
      onToggleReaction: (emoji) => chat.toggleReaction(chat.log(rid).get(msg.id) ?? msg, emoji).catch(toastError),
      onEdit: () => startEdit(msg.id, 'message'),
      onDelete: () => deleteMessage(msg),
      onSaveEdit: (body) => saveEdit(msg, body),
      onCancelEdit: () => stopEdit(),
      onReply: () => openThread(msg.id, { focus: 'composer' }),
      onCopyLink: () => copyMessageLink(msg),
      onTogglePin: w.look.canPin ? () => pinsCtl.toggle(chat.log(rid).get(msg.id) ?? msg) : null,
    };
    if (o.thread) o.thread = { ...o.thread, open: () => openThread(msg.id, { focus: 'heading' }) };
    return roving.prepare(messageElement(ctx, msg, o), w.key);
  }

  // Replaces old with fresh; when old held the focus, the control with the
  // same key in fresh gets it (or fresh itself), so a reaction, an edit or
  // a deletion never drops the focus to <body>.
  function swap(old, fresh) {
    const active = document.activeElement;
    const had = active && old.contains(active);
    const key = had && active !== old ? focusKey(active) : null;
    old.replaceWith(fresh);
    if (!had) return;
    const target = (key && key !== 'message' && fresh.querySelector(`[data-focus-key="${CSS.escape(key)}"], [data-testid="${CSS.escape(key)}"]`)) || fresh;
    if (target === fresh && fresh.matches('.msg[data-id]')) roving.setCurrent(fresh, `m:${fresh.dataset.id}`);
    target.focus({ preventScroll: true });
  }

  // Keyed reconciliation: unchanged messages keep their elements (and focus,
  // selection, loaded avatars); only changed ones are rebuilt.
  function renderMessages({ forceBottom = false } = {}) {
    if (destroyed || !room) return;
    const log = chat.log(rid);
    // A window detached from the live end (a message link) grows downwards
    // as the reader scrolls: its bottom is not the newest message.
    const wasAtBottom = forceBottom || (isAtBottom() && !log.detached);
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
    // Back at the newest messages after reading far back: what is above
    // the screen goes (it is re-rendered on the way up again), so the list
    // stays cheap to update.
    const all = log.messages();
    // (Not while a search hit is being shown: its message must stay.)
    const settled = forceBottom || (wasAtBottom && highlightSeq == null);
    if (settled && firstSeq != null && all.length > 0 && all[all.length - 1].seq - firstSeq >= 3 * WINDOW) {
      firstSeq = all[all.length - 1].seq - WINDOW + 1;
    }
    const want = desiredNodes();
    const keep = new Set(want.map((w) => w.key));
    const focusWasIn = list.contains(document.activeElement);
    for (const [k, n] of nodes) {
      if (!keep.has(k)) {
        n.el.remove();
        nodes.delete(k);
      }
    }
    let cursor = list.firstChild;
    const items = [];
    for (const w of want) {
      let n = nodes.get(w.key);
      const changed = n && (w.msg ? n.msg !== w.msg || !sameLook(n.look, w.look) : n.sig !== w.sig);
      if (changed) {
        const fresh = w.msg ? buildMessage(w) : w.build();
        if (cursor === n.el) cursor = fresh;
        swap(n.el, fresh);
        n.el = fresh;
        n.sig = w.sig;
        n.msg = w.msg;
        n.look = w.look;
      } else if (!n) {
        n = { el: w.msg ? buildMessage(w) : w.build(), sig: w.sig, msg: w.msg, look: w.look };
        nodes.set(w.key, n);
      }
      if (n.el !== cursor) list.insertBefore(n.el, cursor);
      cursor = n.el.nextSibling;
      if (w.msg) items.push({ el: n.el, key: w.key });
    }
    renderOutbox();
    const lastKey = want.at(-1)?.key ?? null;
    const appended = lastKey !== prevLastKey && prevLastKey !== null;
    prevLastKey = lastKey;
    // The Tab stop follows the newest message while the reader is not
    // walking the list; a message that left with the focus hands it on.
    roving.sync(items, appended && !list.contains(document.activeElement));
    if (focusWasIn && !list.contains(document.activeElement) && (document.activeElement === document.body || !document.activeElement)) roving.el?.focus({ preventScroll: true });
    const hiddenOlder = firstSeq != null && log.messages().length > 0 && firstSeq > log.messages()[0].seq;
    keepFocus(start, () => replace(start, log.hasMoreBefore || hiddenOlder
      ? (loadingOlder ? spinner('Loading older messages') : olderBtn)
      : h('div', { class: 'room-intro' },
        h('div', { class: 'intro-icon' }, icon(isDirect(room) ? 'message' : room.kind === 'private' ? 'lock' : 'hash')),
        h('h2', { text: isDirect(room) ? roomTitle(room) : `Welcome to ${room.name}` }),
        h('p', { text: isDirect(room) ? `This is the start of your ${room.kind === 'group' ? 'group conversation' : 'direct message history'}.` : room.description || 'This is the very beginning of the room.' }))), () => roving.el);
    if (wasAtBottom) {
      scroller.scrollTop = scroller.scrollHeight;
    } else if (anchor?.isConnected) {
      scroller.scrollTop += anchor.getBoundingClientRect().top - anchorTop;
      if (appended) jump.hidden = false;
    }
    if (log.detached) jump.hidden = false;
    updateReading();
  }

  function renderOutbox() {
    const myName = displayName(profiles.get(api.user?.id), api.user?.username);
    const entries = chat.outbox.forRoom(rid).filter((e) => e.thread_root_id == null);
    const live = new Set(entries.map((e) => e.client_msg_id));
    const focusWasIn = outboxEl.contains(document.activeElement);
    for (const [k, n] of pendingNodes) {
      if (!live.has(k)) {
        n.el.remove();
        pendingNodes.delete(k);
      }
    }
    let cursor = outboxEl.firstChild;
    for (const e of entries) {
      const sig = `${e.state}:${e.error}`;
      let n = pendingNodes.get(e.client_msg_id);
      const build = () => pendingElement(ctx, e, myName, { onRetry: () => chat.retrySend(e.client_msg_id), onDiscard: () => chat.discardSend(e.client_msg_id) });
      if (n && n.sig !== sig) {
        const fresh = build();
        if (cursor === n.el) cursor = fresh;
        keepFocus(outboxEl, () => n.el.replaceWith(fresh));
        n.el = fresh;
        n.sig = sig;
      } else if (!n) {
        n = { el: build(), sig };
        pendingNodes.set(e.client_msg_id, n);
      }
      if (n.el !== cursor) outboxEl.insertBefore(n.el, cursor);
      cursor = n.el.nextSibling;
    }
    if (focusWasIn && !outboxEl.contains(document.activeElement)) textarea?.focus({ preventScroll: true });
  }

  // aria-busy on the feed while pages load, cleared a frame after the last
  // one is in (so the accessibility tree sees the finished list).
  let busy = 0;
  function loading(p) {
    busy++;
    list.setAttribute('aria-busy', 'true');
    return Promise.resolve(p).finally(() => {
      if (--busy === 0) requestAnimationFrame(() => { if (busy === 0) list.setAttribute('aria-busy', 'false'); });
    });
  }

  // Scrolled (or Load older) to the top: first show what is already held,
  // then fetch a page.
  function showOlder() {
    const all = chat.log(rid).messages();
    if (firstSeq != null && all.length > 0 && firstSeq > all[0].seq) {
      firstSeq = Math.max(all[0].seq, firstSeq - STEP);
      renderMessages();
      return Promise.resolve();
    }
    return loadOlder();
  }

  async function loadOlder() {
    if (loadingOlder || destroyed) return;
    loadingOlder = true;
    renderMessages();
    await loading((async () => {
      try {
        await chat.loadOlder(rid);
        const all = chat.log(rid).messages();
        if (all.length) firstSeq = all[0].seq; // the page just fetched is shown
      } catch (err) {
        toastError(err);
      } finally {
        loadingOlder = false;
        renderMessages();
      }
    })());
  }

  // After a message link: newer pages as the reader scrolls down, or the
  // latest page at once (Jump, or a message sent).
  let loadingNewer = false;
  async function showNewer() {
    if (loadingNewer || destroyed) return;
    loadingNewer = true;
    await loading(chat.loadNewer(rid).catch(toastError));
    loadingNewer = false;
    renderMessages();
  }

  async function toLatest() {
    await loading(chat.toLatest(rid).catch(toastError));
    if (destroyed) return;
    const all = chat.log(rid).messages();
    highlightSeq = null;
    firstSeq = all.length ? Math.max(all[0].seq, all[all.length - 1].seq - WINDOW + 1) : null;
    renderMessages({ forceBottom: true });
  }

  // The roving tabindex: the arrow keys, Page Up/Down, Home and End move
  // between messages (Tab then reaches the current one's controls), Left
  // and Right move along a message's actions, Escape goes to the composer.
  list.addEventListener('focusin', (e) => {
    const m = e.target.closest('.msg[data-id]');
    if (m) roving.setCurrent(m, `m:${m.dataset.id}`);
  });
  list.addEventListener('keydown', (e) => {
    if (e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey || e.target.closest('textarea, input')) return;
    const bar = e.target.closest('[role=toolbar]');
    if (bar && (e.key === 'ArrowLeft' || e.key === 'ArrowRight')) {
      const buttons = [...bar.querySelectorAll('button')];
      const i = buttons.indexOf(e.target);
      e.preventDefault();
      buttons[(i + (e.key === 'ArrowRight' ? 1 : buttons.length - 1)) % buttons.length]?.focus();
      return;
    }
    if (e.key === 'Escape' && editingId == null && textarea) {
      e.preventDefault();
      textarea.focus();
      return;
    }
    const cur = e.target.closest('.msg[data-id]');
    if (!cur) return;
    if ((e.key === 'Home' || e.key === 'End') && e.target !== cur) return;
    const items = [...list.querySelectorAll('.msg[data-id]')].map((el) => ({ el, key: `m:${el.dataset.id}` }));
    const it = roving.move(e.key, items, items.findIndex((x) => x.el === cur));
    if (!it) return;
    e.preventDefault();
    it.el.scrollIntoView({ block: 'nearest' });
  });

  // A reader at the newest message stays there when the timeline's height
  // changes under them — the connection banner coming or going, the
  // composer growing, a phone's keyboard — instead of the newest messages
  // sliding under the composer. Scroll events keep track of where they are
  // (a height change alone moves nothing, so fires none).
  let stuck = true;
  let seenHeight = 0;
  const keepBottom = new ResizeObserver(() => {
    const height = scroller.clientHeight;
    if (height === seenHeight) return;
    seenHeight = height;
    if (stuck && !destroyed) scroller.scrollTop = scroller.scrollHeight;
  });
  keepBottom.observe(scroller);

  scroller.addEventListener('scroll', () => {
    stuck = isAtBottom();
    const log = chat.log(rid);
    const hiddenOlder = firstSeq != null && log.messages().length > 0 && firstSeq > log.messages()[0].seq;
    if (scroller.scrollTop < 300 && (hiddenOlder || log.hasMoreBefore) && !loadingOlder && room) showOlder();
    if (log.detached && room && scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 300) showNewer();
    if (isAtBottom()) jump.hidden = true;
    updateReading();
  }, { passive: true });

  // ---- message actions -----------------------------------------------------

  function startEdit(id, from = 'composer') {
    editingId = id;
    editFrom = from;
    const key = `m:${id}`;
    renderMessages();
    const n = nodes.get(key);
    if (n) roving.setCurrent(n.el, key);
  }

  // The focus goes back where the edit started: the composer (Up arrow) or
  // the message's Edit button.
  function stopEdit() {
    const id = editingId;
    editingId = null;
    renderMessages();
    const n = nodes.get(`m:${id}`);
    if (editFrom === 'message' && n) (n.el.querySelector('[data-testid=edit-message]') ?? n.el).focus();
    else textarea?.focus();
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
    const ok = await confirmDialog('Delete message?', 'It will be removed for everyone. This cannot be undone.', 'Delete', true,
      { fallback: () => nodes.get(`m:${msg.id}`)?.el });
    if (!ok) return;
    try {
      await chat.deleteMessage(msg.id, rid);
    } catch (err) {
      toastError(err);
    }
  }

  // A small non-modal dialog: arrow keys, Home and End move, Tab stays
  // inside it, Escape or a choice closes it and the focus goes back to the
  // button that opened it (or, re-rendered meanwhile, its successor).
  function reactionPicker(anchor, msg) {
    document.querySelector('.emoji-picker')?.remove();
    const restore = rememberFocus(anchor, () => nodes.get(`m:${msg.id}`)?.el);
    const picker = h('div', { class: 'emoji-picker', role: 'dialog', 'aria-label': 'Pick a reaction', testid: 'emoji-picker' });
    anchor.setAttribute('aria-expanded', 'true');
    const close = (focus) => {
      picker.remove();
      anchor.setAttribute('aria-expanded', 'false');
      document.removeEventListener('pointerdown', outside, true);
      if (focus) restore();
    };
    const outside = (e) => {
      if (!picker.contains(e.target)) close(false);
    };
    for (const emoji of QUICK_REACTIONS) {
      picker.append(h('button', {
        type: 'button', class: 'emoji', testid: 'emoji-option', dataset: { emoji }, 'aria-label': `React with ${emoji}`, text: emoji,
        onClick: () => {
          close(true);
          chat.toggleReaction(chat.log(rid).get(msg.id) ?? msg, emoji).catch(toastError);
        },
      }));
    }
    picker.addEventListener('keydown', (e) => {
      const buttons = [...picker.querySelectorAll('button')];
      const i = buttons.indexOf(document.activeElement);
      if (e.key === 'Escape') { e.preventDefault(); e.stopPropagation(); close(true); }
      else if (e.key === 'ArrowRight' || e.key === 'ArrowDown') { e.preventDefault(); buttons[(i + 1) % buttons.length].focus(); }
      else if (e.key === 'ArrowLeft' || e.key === 'ArrowUp') { e.preventDefault(); buttons[(i - 1 + buttons.length) % buttons.length].focus(); }
      else if (e.key === 'Home') { e.preventDefault(); buttons[0].focus(); }
      else if (e.key === 'End') { e.preventDefault(); buttons.at(-1).focus(); }
      else trapTab(picker, e);
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
        // The name the room header and the message show, not the username.
        label: `Message ${displayName(profiles.get(userId), username)}`, icon: 'message', testid: 'message-user',
        onSelect: async () => {
          try {
            const dm = await chat.openDM(userId, username);
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
  let att = null; // the composer's attachments (views/files.js)
  function renderComposer() {
    const r = chat.room(rid) ?? room;
    if (!r) return;
    if (r.archived) {
      replace(composerSlot, h('div', { class: 'composer-note', text: 'This room is archived: it can be read but not written to.' }));
      textarea = null;
      att?.destroy();
      att = null;
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
      att?.destroy();
      att = null;
      return;
    }
    // A DM's title is the peer's display name, which may arrive after the
    // composer was drawn: the existing textarea gets the new labels.
    const title = roomTitle(r);
    const placeholder = `Message ${isDirect(r) ? title : (r.kind === 'private' ? '' : '#') + r.name}`;
    if (textarea?.isConnected) {
      if (textarea.placeholder !== placeholder) textarea.placeholder = placeholder;
      if (textarea.getAttribute('aria-label') !== `Message ${title}`) textarea.setAttribute('aria-label', `Message ${title}`);
      return;
    }
    textarea = h('textarea', {
      class: 'composer-input', testid: 'composer', rows: 1, maxlength: 4000, enterkeyhint: 'send',
      placeholder, 'aria-label': `Message ${title}`,
    });
    textarea.value = ctx.drafts.get(rid) ?? '';
    const mentionBox = mentionAutocomplete(ctx, textarea, rid); // before the keys below: it takes Enter while open
    // aria-disabled, not disabled: a disabled button would drop the focus
    // to <body> the moment a click on it sent the message.
    const send = h('button', { type: 'submit', class: 'send-btn', testid: 'send', 'aria-label': 'Send message', title: 'Send (Enter)', 'aria-disabled': 'true' }, icon('send'));
    const form = h('form', {
      class: 'composer',
      onSubmit: (e) => {
        e.preventDefault();
        submit();
      },
    }, textarea, send, mentionBox.el);
    const grow = () => {
      textarea.style.height = 'auto';
      textarea.style.height = `${Math.min(textarea.scrollHeight, 200)}px`;
      send.setAttribute('aria-disabled', att?.sendable(textarea.value).ok ? 'false' : 'true');
    };
    // Files: the paperclip, drop anywhere on the room, paste (views/files.js).
    att?.destroy();
    att = attachments(ctx, { roomId: rid, key: `room:${rid}`, label: isDirect(r) ? title : `#${r.name}`, textarea, dropZone: el, guardPage: true, onChange: grow });
    form.prepend(att.button, att.input);
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
        const own = [...chat.log(rid).messages()].reverse().find((m) => m.user_id === api.user?.id && !m.deleted && !isReply(m));
        if (own) {
          e.preventDefault();
          startEdit(own.id, 'composer');
        }
      }
    });
    function submit() {
      const body = textarea.value;
      const can = att.sendable(body);
      if (!can.ok) {
        att.explain(can.reason);
        return;
      }
      pinUntil = 0;
      if (chat.log(rid).detached) toLatest();
      chat.send(rid, body, null, att.take());
      textarea.value = '';
      ctx.drafts.delete(rid);
      grow();
      renderMessages({ forceBottom: true });
      if (document.activeElement === send) textarea.focus();
    }
    const hint = composerHint(textarea, `composer-hint-${rid}`, 'Enter to send · Shift+Enter for a new line · Up arrow edits your last message');
    keepFocus(composerSlot, () => replace(composerSlot, att.tray, form, hint.el));
    timeline.append(att.overlay);
    queueMicrotask(grow);
  }

  // The dots blink a few times when someone starts typing (not on every
  // update of the list, so never for five seconds on end).
  let typingShown = '';
  function renderTyping() {
    const names = chat.typingIn(rid).map((t) => displayName(profiles.get(t.user_id), t.username));
    const text = typingText(names);
    if (text === typingShown) return;
    const wasTyping = !!typingShown;
    typingShown = text;
    typing.classList.toggle('active', !!text);
    if (!text) {
      typing.textContent = '';
    } else if (wasTyping) {
      typing.lastElementChild.textContent = text;
    } else {
      typing.replaceChildren(h('span', { class: 'typing-dots', 'aria-hidden': 'true' }, h('i'), h('i'), h('i')), h('span', { text }));
    }
  }

  // ---- members panel -------------------------------------------------------

  // A big room (more online than a presence frame lists) shows its members
  // by name, PANEL_ROWS more at a time, and asks which of the rows shown are
  // online (ChatClient.watchPresence); everyone online is in "Who's online".
  let panelRows = PANEL_ROWS;
  function renderPanel() {
    if (!panelOpen) {
      chat.watchPresence(rid, []);
      return;
    }
    const r = chat.room(rid) ?? room;
    const members = store.state.members[rid];
    // While the socket is away nobody's presence is known: no one is
    // listed as online, every dot is dimmed and says so.
    const unknown = !!store.state.presenceStale;
    const big = chat.presence.big(rid);
    const status = (uid) => (unknown ? 'unknown' : chat.isOnline(rid, uid));
    if (!members) {
      replace(panel, spinner('Loading members'));
      return;
    }
    const byName = (a, b) => String(a.username).localeCompare(String(b.username));
    const sorted = big
      ? [...members].sort(byName)
      : [...members].sort((a, b) => {
        const ao = status(a.user_id) === true ? 0 : 1;
        const bo = status(b.user_id) === true ? 0 : 1;
        return ao - bo || byName(a, b);
      });
    const shown = big ? sorted.slice(0, panelRows) : sorted;
    chat.watchPresence(rid, big && !unknown ? shown.map((m) => m.user_id) : []);
    const onlineCount = chat.onlineCount(rid);
    const item = (m) => {
      const uid = Number(m.user_id);
      const name = displayName(profiles.get(uid), m.username);
      const on = status(uid);
      const said = unknown ? ', presence unknown while reconnecting' : on === 'unknown' ? ', presence not known yet' : on ? ', online' : ', offline';
      const btn = h('button', {
        type: 'button', class: ['member', on === true && 'online'], testid: 'member-item', dataset: { userId: uid, username: m.username, online: on === 'unknown' ? 'unknown' : on ? '1' : '0', focusKey: `member-${uid}` },
        'aria-haspopup': 'menu', 'aria-expanded': 'false',
        'aria-label': `${name}${profiles.get(uid)?.is_bot ? ' (bot)' : ''}${said}${m.role === 'owner' ? ', owner' : ''}`,
      }, avatar(ctx, uid, name, 'sm', on), h('span', { class: 'member-text' }, h('span', { class: 'member-name' }, name, botTag(profiles.get(uid))), profiles.get(uid)?.status_text ? h('span', { class: 'member-status', text: profiles.get(uid).status_text }) : null),
      m.role === 'owner' ? h('span', { class: 'role-badge', text: 'owner' }) : null);
      btn.addEventListener('click', () => userMenu(btn, uid, m.username));
      return h('li', {}, btn);
    };
    const summary = unknown || onlineCount == null ? 'Presence unknown while reconnecting' : `${onlineCount.toLocaleString()} online`;
    const rest = sorted.length - shown.length;
    const moreBtn = rest > 0
      ? h('button', {
        type: 'button', class: 'btn btn-ghost btn-block more-members', testid: 'more-members', dataset: { focusKey: 'more-members' },
        onClick: () => {
          const next = shown.length;
          panelRows += PANEL_ROWS;
          renderPanel();
          // The focus goes to the first of the rows just shown.
          panel.querySelectorAll('[data-testid=member-item]')[next]?.focus();
        },
      }, `Show ${plural(Math.min(rest, PANEL_ROWS), 'more member')}`)
      : null;
    keepFocus(panel, () => replace(panel,
      h('div', { class: 'panel-head' }, h('h2', { text: 'Members' }), h('span', { class: 'muted', testid: 'presence-summary', text: `${summary} · ${plural(sorted.length, 'member')}` }),
        iconButton('x', 'Hide members', { class: 'panel-close', testid: 'panel-close', onClick: () => togglePanel(false) })),
      r?.is_member && !isDirect(r) ? h('button', { type: 'button', class: 'btn btn-ghost btn-block invite-btn', testid: 'invite', onClick: () => inviteDialog(ctx, r) }, icon('userPlus'), 'Invite people') : null,
      r?.kind !== 'dm' ? h('button', {
        type: 'button', class: 'btn btn-ghost btn-block whos-online-btn', testid: 'whos-online', dataset: { focusKey: 'whos-online' },
        onClick: (e) => whosOnlineDialog(ctx, chat.room(rid) ?? room, { opener: e.currentTarget, fallback: () => panel.querySelector('[data-testid=whos-online]') }),
      }, icon('users'), "Who's online") : null,
      h('ul', { class: 'member-list', testid: 'member-list' }, shown.map(item)),
      moreBtn), () => header.querySelector('[data-testid=members-toggle]'));
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
    store.subscribe(['presence', 'presenceStale', 'members'], () => schedule('header', 'panel')),
    store.subscribe(['profilesVersion'], () => schedule('header', 'messages', 'composer', 'panel', 'typing')),
  ];
  const onVisible = () => updateReading();
  document.addEventListener('visibilitychange', onVisible);
  const onKey = (e) => {
    if (e.key === 'Escape' && editingId != null) {
      stopEdit();
      return;
    }

    // Typing a character with the focus on the heading or a message starts
    // a message: the focus moves to the composer before the character lands.
    if (textarea && e.key.length === 1 && e.key !== ' ' && !e.ctrlKey && !e.metaKey && !e.altKey && e.target.matches('h1, .msg[data-id]')) textarea.focus();
  };
  el.addEventListener('keydown', onKey);
  // Escape, wherever the focus is, hides the actions a pointer's hover
  // brought up over the message above, until the pointer leaves.
  const onEscape = (e) => {
    if (e.key !== 'Escape') return;
    const hovered = list.querySelector('.msg[data-id]:hover');
    if (hovered && !hovered.contains(document.activeElement)) {
      hovered.classList.add('actions-dismissed');
      hovered.addEventListener('mouseleave', () => hovered.classList.remove('actions-dismissed'), { once: true });
    }
  };
  document.addEventListener('keydown', onEscape);

  // A revealed message (a link, a search hit) stays centred while the page
  // settles under it — fonts, older pages, a fresh page's late layout —
  // until the reader scrolls, clicks or types, or for 2 s at most.
  let pinUntil = 0;
  const pin = new ResizeObserver(() => {
    if (destroyed || highlightSeq == null || performance.now() > pinUntil) return;
    list.querySelector(`.msg[data-seq="${highlightSeq}"]`)?.scrollIntoView({ block: 'center' });
  });
  pin.observe(list);
  const unpin = () => { pinUntil = 0; };
  for (const type of ['wheel', 'touchstart', 'pointerdown', 'keydown']) scroller.addEventListener(type, unpin, { passive: true });

  function revealTarget() {
    pinUntil = performance.now() + 2000;
    const all = chat.log(rid).messages();
    if (highlightSeq != null && all.length) firstSeq = Math.max(all[0].seq, Math.min(firstSeq ?? Infinity, highlightSeq - 10));
  }

  replace(list, h('div', { class: 'timeline-loading' }, spinner('Loading messages')));
  renderHeader(); // the room is usually known from the list: its heading and title at once
  loading((async () => {
    try {
      room = await chat.openRoom(rid);
      if (destroyed) return;
      markerSeq = (chat.room(rid)?.unread ?? 0) > 0 ? chat.room(rid).last_read_seq ?? null : null;
      list.replaceChildren();
      renderHeader();
      renderComposer();
      renderPanel();
      renderTyping();
      if (linkPending) await followLink(messageParam(linkParam));
      else if (threadParam) openThread(threadParam, { focus: 'heading' });
      if (destroyed) return;
      if (highlightSeq != null) {
        await chat.reveal(rid, highlightSeq, { around: linked }).catch(() => false);
        if (destroyed) return;
        revealTarget();
        renderMessages();
        const target = list.querySelector(`.msg[data-seq="${highlightSeq}"]`);
        if (target) {
          target.scrollIntoView({ block: 'center' });
          roving.setCurrent(target, `m:${target.dataset.id}`);
          target.focus({ preventScroll: true });
        } else {
          ctx.shell?.focusHeading();
        }
      } else {
        renderMessages({ forceBottom: true });
      }
      // The rest of the window, a screenful per task, then older pages
      // while the screen is not full.
      for (;;) {
        await new Promise((r) => setTimeout(r, 0));
        if (destroyed) return;
        const all = chat.log(rid).messages();
        if (highlightSeq != null || all.length === 0 || firstSeq == null) break;
        const want = Math.max(all[0].seq, all[all.length - 1].seq - WINDOW + 1);
        if (want >= firstSeq) break;
        firstSeq = Math.max(want, firstSeq - FIRST);
        renderMessages();
      }
      for (let i = 0; i < 3 && !destroyed && scroller.scrollHeight <= scroller.clientHeight && chat.log(rid).hasMoreBefore; i++) await loadOlder();
    } catch (err) {
      if (destroyed) return;
      if (err.status === 404 || err.status === 403) {
        replace(el, viewHeader(ctx, [h('h1', { class: 'room-title', text: 'Room not found' })]),
          h('div', { class: 'room-missing', testid: 'room-missing' }, emptyState('lock', 'This room does not exist or is private.', 'Ask a member to invite you, or pick another room.', h('a', { href: '/browse', class: 'btn btn-primary' }, 'Browse rooms'))));
      } else {
        replace(list, emptyState('alert', 'Could not load this room.', err.message, h('button', { type: 'button', class: 'btn btn-primary', onClick: () => ctx.router.go(`/rooms/${rid}`) }, 'Try again')));
      }
      ctx.shell?.headingReady();
    }
  })());

  // ---- threads and message links -----------------------------------------

  function openThread(rootId, { focus = null, highlightId = null } = {}) {
    const id = Number(rootId);
    if (!(id > 0)) return;
    if (pane?.rootId === id && highlightId == null) {
      if (focus === 'composer') pane.focusComposer();
      else if (focus) pane.focusHeading();
      return;
    }
    const opener = document.activeElement;
    pinsCtl.close({ restoreFocus: false });
    pane?.destroy();
    pane?.el.remove();
    pane = threadPane(ctx, rid, id, {
      highlightId,
      onClose: () => {
        const was = pane;
        pane = null;
        was?.destroy();
        was?.el.remove();
        el.classList.remove('thread-open');
        const back = nodes.get(`m:${id}`)?.el;
        (opener?.isConnected && opener !== document.body ? opener : back ?? textarea)?.focus?.({ preventScroll: true });
      },
    });
    panel.before(pane.el);
    el.classList.add('thread-open');
    if (focus === 'composer') pane.focusComposer();
    else if (focus) pane.focusHeading();
  }

  function closeThreadPane() {
    const was = pane;
    pane = null;
    was?.destroy();
    was?.el.remove();
    el.classList.remove('thread-open');
  }

  // A message link: a top-level message is scrolled to and highlighted, a
  // reply opens its thread at it.
  async function followLink(mid) {
    linkPending = false;
    let msg = null;
    try {
      msg = await api.get(`/api/chat/messages/${mid}`);
    } catch (err) {
      toastError(err, 'That message is not there.');
    }
    if (destroyed || !msg || Number(msg.room_id) !== rid) return;
    if (isReply(msg)) {
      openThread(msg.thread_root_id, { highlightId: Number(msg.id) });
      ctx.shell?.headingReady();
    } else {
      highlightSeq = Number(msg.seq);
      linked = true;
    }
  }

  return {
    el,
    roomId: rid,
    // A search hit or a message link places the focus on its message itself.
    focus: highlightSeq != null || linkPending ? 'self' : undefined,
    /** Follows ?thread= or ?m= within the open room. */
    route(query) {
      if (messageParam(query.m) != null) {
        followLink(messageParam(query.m)).then(() => {
          if (highlightSeq != null && !destroyed) this.reveal(highlightSeq, { around: true });
        });
      } else if (query.thread) {
        openThread(query.thread, { focus: 'heading' });
      }
    },
    /** Scrolls to another message of the same room (search result). */
    reveal(s, { around = false } = {}) {
      highlightSeq = Number(s);
      loading(chat.reveal(rid, highlightSeq, { around })).then(() => {
        revealTarget();
        renderMessages();
        const target = list.querySelector(`.msg[data-seq="${highlightSeq}"]`);
        target?.scrollIntoView({ block: 'center' });
        if (target) {
          roving.setCurrent(target, `m:${target.dataset.id}`);
          target.focus({ preventScroll: true });
        }
      }, () => {});
    },
    destroy() {
      destroyed = true;
      keepBottom.disconnect();
      pin.disconnect();
      cancelAnimationFrame(frame);
      unsubs.forEach((u) => u());
      narrowQuery.removeEventListener('change', onNarrow);
      document.removeEventListener('keydown', onEscape);
      document.removeEventListener('visibilitychange', onVisible);
      document.querySelector('.emoji-picker')?.remove();
      pane?.destroy();
      att?.destroy();
      pinsCtl.destroy();
      chat.watchPresence(rid, []);
      if (chat.readingRoom === rid) chat.readingRoom = null;
      chat.closeRoom(rid);
    },
  };
}
