// Threads in the SPA: the "Reply in thread" and "Copy link" message
// actions, the "N replies" line under a root, the thread pane (beside the
// room on a desktop, a full screen with a back button on a phone), and the
// Threads view listing the followed threads. User text goes in as text
// nodes only (messageElement, textContent).

import { h, icon, iconButton, replace, svgIcon } from '../ui/dom.js';
import { avatar, confirmDialog, emptyState, spinner, toast, toastError } from '../ui/widgets.js';
import { displayName, preview } from '../lib/format.js';
import { plainText } from '../lib/markdown.js';
import { fullTime, listTime, relativeTime } from '../lib/timefmt.js';
import { isReply, messageUrl, replyLabel } from '../lib/threads.js';
import { messageElement, pendingElement } from './message.js';
import { viewHeader } from './shell.js';
import { mentionAutocomplete } from '../ui/mentionbox.js';
import { attachments } from './files.js';
import { canPin, togglePin } from './pins.js';

const PATHS = {
  reply: 'M9 17 4 12l5-5M20 18v-2a4 4 0 0 0-4-4H4',
  link: 'M10 13a5 5 0 0 0 7.54.54l3-3a5 5 0 0 0-7.07-7.07l-1.72 1.71M14 11a5 5 0 0 0-7.54-.54l-3 3a5 5 0 0 0 7.07 7.07l1.71-1.71',
};
function glyph(name) {
  return svgIcon(PATHS[name]);
}

/** The thread actions of a message's toolbar: Reply in thread (top-level only), Copy link. */
export function threadActions(msg, o) {
  return [
    o.onReply && !isReply(msg) ? h('button', { type: 'button', tabindex: '-1', class: 'icon-btn', testid: 'reply-in-thread', 'aria-label': 'Reply in thread', title: 'Reply in thread', onClick: () => o.onReply() }, glyph('reply')) : null,
    o.onCopyLink ? h('button', { type: 'button', tabindex: '-1', class: 'icon-btn', testid: 'copy-link', 'aria-label': 'Copy link to message', title: 'Copy link', onClick: () => o.onCopyLink() }, glyph('link')) : null,
  ];
}

/**
 * The look of a root's thread line for lookOf: null without replies.
 * repliers: user ids, newest first.
 */
export function threadLook(ctx, msg, repliers) {
  if (isReply(msg) || !(Number(msg.reply_count) > 0)) return null;
  const people = (repliers ?? []).slice(0, 3).map((id) => ({ id, name: displayName(ctx.profiles.get(id), id === ctx.api.user?.id ? ctx.api.user?.username : `user ${id}`) }));
  return { count: Number(msg.reply_count), last: msg.last_reply_at ?? null, people, sig: `${msg.reply_count}|${msg.last_reply_at}|${people.map((p) => `${p.id}:${p.name}`).join(',')}` };
}

/** "3 replies · Last reply 5 minutes ago" with the last repliers' avatars: a button opening the thread. */
export function threadSummary(ctx, msg, t, id, parts) {
  const label = replyLabel(t.count);
  parts.push(`${id}-th`);
  const when = t.last ? relativeTime(t.last) : '';
  return h('button', {
    type: 'button', tabindex: '-1', class: 'thread-summary', testid: 'thread-summary', dataset: { focusKey: 'thread-summary', count: t.count },
    'aria-label': `${label}${t.last ? `, last reply ${fullTime(t.last)}` : ''}. Open thread`,
    onClick: () => t.open?.(),
  },
  h('span', { class: 'thread-avatars', 'aria-hidden': 'true' }, t.people.map((p) => avatar(ctx, p.id, p.name, 'xs'))),
  h('span', { class: 'thread-count', id: `${id}-th`, text: label }),
  when ? h('span', { class: 'thread-last', 'aria-hidden': 'true', text: `Last reply ${when}` }) : null);
}

/** Copies a message's link; a toast shows the URL when the clipboard is refused. */
export async function copyMessageLink(msg) {
  const url = messageUrl(location.origin, msg);
  try {
    await navigator.clipboard.writeText(url);
    toast('Link copied');
  } catch {
    toast(`Copy this link: ${url}`, 'info', 12000);
  }
  return url;
}

/**
 * The thread pane for rootId in room rid. o: {onClose, highlightId}.
 * Returns {el, rootId, focus(), destroy()}.
 */
export function threadPane(ctx, rid, rootId, o = {}) {
  const { chat, store, api, profiles } = ctx;
  const threads = ctx.threads;
  const root = Number(rootId);
  let destroyed = false;
  let highlightId = o.highlightId != null ? Number(o.highlightId) : null;
  const nodes = new Map();
  const pendingNodes = new Map();
  const titleId = `thread-title-${root}`;
  const back = h('button', { type: 'button', class: 'btn btn-ghost btn-small thread-back', testid: 'thread-back', 'aria-label': 'Back to the room' }, icon('back'), h('span', { text: 'Back' }));
  back.addEventListener('click', () => o.onClose?.());
  const close = iconButton('x', 'Close thread', { class: 'thread-close', testid: 'thread-close', onClick: () => o.onClose?.() });
  const heading = h('h2', { id: titleId, tabindex: '-1', text: 'Thread' });
  const where = h('span', { class: 'muted thread-where' });
  const rootSlot = h('div', { class: 'thread-root' });
  const sep = h('div', { class: 'thread-sep', role: 'separator' });
  const list = h('div', { class: 'messages thread-replies', testid: 'thread-replies', role: 'feed', 'aria-label': 'Replies', 'aria-busy': 'true' });
  const outboxEl = h('div', { class: 'outbox' });
  const scroller = h('div', { class: 'scroller thread-scroller' }, rootSlot, sep, list, outboxEl);
  const textarea = h('textarea', { class: 'composer-input', testid: 'thread-composer', rows: 1, maxlength: 4000, enterkeyhint: 'send', placeholder: 'Reply…', 'aria-label': 'Reply in thread' });
  const send = h('button', { type: 'submit', class: 'send-btn', testid: 'thread-send', 'aria-label': 'Send reply', title: 'Send (Enter)', 'aria-disabled': 'true' }, icon('send'));
  // The room composer's @mention list (the room's members first); attached
  // before the keys below: it takes Enter, Tab and Escape while open.
  const mentionBox = mentionAutocomplete(ctx, textarea, rid);
  const form = h('form', { class: 'composer', onSubmit: (e) => { e.preventDefault(); submit(); } }, textarea, send, mentionBox.el);
  const el = h('aside', { class: 'thread-pane', testid: 'thread-pane', 'aria-labelledby': titleId, dataset: { rootId: root } },
    h('div', { class: 'thread-head' }, back, h('div', { class: 'thread-titles' }, heading, where), close),
    scroller, h('div', { class: 'composer-slot' }, form));

  let att = null;
  const grow = () => {
    textarea.style.height = 'auto';
    textarea.style.height = `${Math.min(textarea.scrollHeight, 160)}px`;
    send.setAttribute('aria-disabled', att?.sendable(textarea.value).ok ? 'false' : 'true');
  };
  // Files for a reply: the paperclip, dropping on the pane, paste (views/files.js).
  att = attachments(ctx, { roomId: rid, key: `thread:${root}`, label: 'the thread', name: { button: 'Attach files to the reply', tray: 'Reply attachments' }, textarea, dropZone: el, onChange: () => grow() });
  form.prepend(att.button, att.input);
  form.before(att.tray);
  el.append(att.overlay);
  textarea.addEventListener('input', grow);
  textarea.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    }
  });
  el.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && !e.defaultPrevented) {
      e.preventDefault();
      e.stopPropagation();
      o.onClose?.();
    } else if (e.key.length === 1 && e.key !== ' ' && !e.ctrlKey && !e.metaKey && !e.altKey && e.target.matches('h2, .msg[data-id]')) {
      // Typing on a message or the heading writes a reply (not a room message).
      e.stopPropagation();
      textarea.focus();
    }
  });

  function submit() {
    const body = textarea.value;
    const can = att.sendable(body);
    if (!can.ok) {
      att.explain(can.reason);
      return;
    }
    const t = threads.current;
    if (!t?.root) return;
    threads.send(t.room_id ?? rid, root, body, att.take());
    highlightId = null; // a linked reply stays marked until one writes
    textarea.value = '';
    grow();
    render(true);
    if (document.activeElement === send) textarea.focus();
  }

  const atBottom = () => scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 48;
  function updateReading() {
    const reading = !destroyed && el.isConnected && atBottom() && document.visibilityState === 'visible' && !!threads.current?.root;
    threads.reading = reading;
    if (reading) threads.markRead();
  }
  scroller.addEventListener('scroll', updateReading, { passive: true });

  // Reactions as the room log holds them (it applies the live frames).
  function withReactions(m) {
    const held = chat.log(m.room_id).get(m.id);
    return held && !held.deleted && !m.deleted ? { ...m, reactions: held.reactions } : m;
  }

  function msgEl(raw, isRoot) {
    const m = withReactions(raw);
    const mine = m.user_id === api.user?.id;
    const name = displayName(profiles.get(m.user_id), m.username);
    // The author edits and deletes a reply here as in the room (the root
    // in the room's timeline).
    const own = mine && !isRoot && !m.deleted;
    const e = messageElement(ctx, m, {
      mine, name, bot: Boolean(profiles.get(m.user_id)?.is_bot), continued: false, highlight: highlightId === m.id, canEdit: own, canDelete: own,
      editing: own && editingId === m.id,
      onEdit: () => startEdit(m.id),
      onDelete: () => deleteReply(m),
      onSaveEdit: (body) => saveEdit(m, body),
      onCancelEdit: () => stopEdit(),
      onOpenUser: () => ctx.router.go(mine ? '/profile' : `/users/${m.user_id}`),
      onCopyLink: () => copyMessageLink(m),
      onTogglePin: canPin(ctx, m.room_id) ? () => togglePin(ctx, chat.log(m.room_id).get(m.id) ?? m) : null,
      onToggleReaction: (emoji) => chat.toggleReaction(chat.log(m.room_id).get(m.id) ?? m, emoji).catch(toastError),
    });
    // Inside the pane everything is in the Tab order (a short list).
    // Their focus keys are the pane's own: the root is also in the timeline.
    for (const b of e.querySelectorAll('button')) {
      b.removeAttribute('tabindex');
      b.dataset.focusKey = `thread-${b.dataset.focusKey || b.dataset.testid || 'button'}`;
    }
    e.dataset.testid = isRoot ? 'thread-root' : 'thread-reply';
    return e;
  }

  let editingId = null;
  function startEdit(id) {
    editingId = id;
    render();
  }
  // The focus goes back to the reply's Edit button.
  function stopEdit() {
    const id = editingId;
    editingId = null;
    render();
    const n = nodes.get(id);
    (n?.el.querySelector('[data-testid=edit-message]') ?? n?.el ?? textarea).focus();
  }
  async function saveEdit(m, body) {
    try {
      const msg = await chat.edit(m.id, body);
      threads.handle({ type: 'message_updated', message: msg }); // before the frame comes back
      stopEdit();
    } catch (err) {
      toastError(err);
    }
  }
  async function deleteReply(m) {
    const ok = await confirmDialog('Delete reply?', 'It will be removed for everyone. This cannot be undone.', 'Delete', true,
      { fallback: () => nodes.get(m.id)?.el ?? textarea });
    if (!ok) return;
    try {
      await chat.deleteMessage(m.id, m.room_id);
      threads.handle({ type: 'message_deleted', message_id: m.id });
    } catch (err) {
      toastError(err);
    }
  }

  function render(forceBottom = false) {
    if (destroyed) return;
    const t = threads.current;
    if (!t || t.root_id !== root) return;
    const wasBottom = forceBottom || atBottom();
    if (t.error) {
      replace(rootSlot, emptyState('alert', t.error.status === 404 ? 'This thread is not there.' : 'Could not load this thread.', t.error.message ?? ''));
      list.replaceChildren();
      form.hidden = true;
      return;
    }
    if (!t.root) {
      replace(rootSlot, spinner('Loading thread'));
      return;
    }
    const r = chat.room(t.room_id);
    where.textContent = r ? (r.kind === 'dm' || r.kind === 'group' ? '' : `#${r.name}`) : '';
    const rootSig = `${t.root.id}:${t.root.body}:${t.root.deleted}:${t.root.edited_at}:${t.root.pinned}:${highlightId}:${JSON.stringify(withReactions(t.root).reactions)}`;
    if (rootSlot.dataset.sig !== rootSig) {
      rootSlot.dataset.sig = rootSig;
      replace(rootSlot, msgEl(t.root, true));
    }
    sep.textContent = replyLabel(t.replies.length);
    const keep = new Set();
    let cursor = list.firstChild;
    for (const m of t.replies) {
      keep.add(m.id);
      let n = nodes.get(m.id);
      const sig = `${m.body}:${m.deleted}:${m.edited_at}:${m.pinned}:${highlightId === m.id}:${editingId === m.id}:${profiles.get(m.user_id)?.display_name ?? ''}:${JSON.stringify(withReactions(m).reactions)}`;
      if (!n || n.sig !== sig) {
        const fresh = msgEl(m, false);
        if (n) {
          if (cursor === n.el) cursor = fresh;
          n.el.replaceWith(fresh);
        }
        n = { el: fresh, sig };
        nodes.set(m.id, n);
      }
      if (n.el !== cursor) list.insertBefore(n.el, cursor);
      cursor = n.el.nextSibling;
    }
    for (const [id, n] of nodes) {
      if (!keep.has(id)) {
        n.el.remove();
        nodes.delete(id);
      }
    }
    list.setAttribute('aria-busy', t.loading ? 'true' : 'false');
    renderOutbox();
    form.hidden = false;
    if (wasBottom && highlightId == null) scroller.scrollTop = scroller.scrollHeight;
    updateReading();
  }

  function renderOutbox() {
    const myName = displayName(profiles.get(api.user?.id), api.user?.username);
    const entries = chat.outbox.forRoom(threads.current?.room_id ?? rid).filter((e) => e.thread_root_id === root);
    const live = new Set(entries.map((e) => e.client_msg_id));
    for (const [k, n] of pendingNodes) {
      if (!live.has(k)) {
        n.el.remove();
        pendingNodes.delete(k);
      }
    }
    for (const e of entries) {
      const sig = `${e.state}:${e.error}`;
      const n = pendingNodes.get(e.client_msg_id);
      if (n && n.sig === sig) continue;
      const fresh = pendingElement(ctx, e, myName, { onRetry: () => chat.retrySend(e.client_msg_id), onDiscard: () => chat.discardSend(e.client_msg_id) });
      if (n) n.el.replaceWith(fresh);
      else outboxEl.append(fresh);
      pendingNodes.set(e.client_msg_id, { el: fresh, sig });
    }
  }

  let frame = 0;
  const schedule = () => {
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      render();
    });
  };
  const unsubs = [
    store.subscribe(['thread', 'logVersions', 'profilesVersion', 'rooms'], schedule),
  ];
  const onVisible = () => updateReading();
  document.addEventListener('visibilitychange', onVisible);

  render();
  threads.open(root).then(() => {
    if (destroyed) return;
    render(true);
    if (highlightId != null) {
      const target = nodes.get(highlightId)?.el ?? (threads.current?.root?.id === highlightId ? rootSlot.firstChild : null);
      if (target) {
        target.scrollIntoView({ block: 'center' });
        target.focus({ preventScroll: true });
      }
    }
  }, () => render());

  return {
    el,
    rootId: root,
    focusComposer() {
      textarea.focus();
    },
    focusHeading() {
      heading.focus();
    },
    destroy() {
      destroyed = true;
      cancelAnimationFrame(frame);
      unsubs.forEach((u) => u());
      document.removeEventListener('visibilitychange', onVisible);
      att.destroy();
      threads.close();
    },
  };
}

/** The Threads view: followed threads, newest first, with unread replies. */
export function threadsView(ctx) {
  const { store, profiles } = ctx;
  const threads = ctx.threads;
  const listEl = h('ul', { class: 'thread-list', testid: 'thread-list', 'aria-label': 'Followed threads' });
  const body = h('div', { class: 'page-body' }, spinner('Loading threads'));
  const el = h('section', { class: 'page threads-page', testid: 'threads-view' },
    viewHeader(ctx, [h('h1', { tabindex: '-1', text: 'Threads' })]), body);
  ctx.shell?.setTitle('Threads');

  function render() {
    const f = store.state.followedThreads;
    if (!f.loaded) return;
    if (f.list.length === 0) {
      replace(body, emptyState('message', 'No threads yet.', 'Threads you start, reply to or are mentioned in show up here.'));
      return;
    }
    const items = f.list.map((t) => {
      const m = t.root;
      const room = ctx.chat.room(m.room_id);
      const name = displayName(profiles.get(m.user_id), m.username);
      const unread = Number(t.unread_replies) || 0;
      const where = room ? (room.kind === 'public' || room.kind === 'private' ? `#${room.name}` : room.name ?? '') : '';
      return h('li', {},
        h('a', {
          href: `/rooms/${m.room_id}?thread=${m.id}`, class: ['thread-item', unread > 0 && 'has-unread'], testid: 'thread-item',
          dataset: { rootId: m.id, unread },
          'aria-label': `${name} in ${where || 'a conversation'}: ${m.deleted ? 'deleted message' : preview(plainText(m.body), 280)}. ${replyLabel(m.reply_count)}${unread ? `, ${unread} unread` : ''}`,
        },
        avatar(ctx, m.user_id, name, 'sm'),
        h('span', { class: 'thread-item-text' },
          h('span', { class: 'thread-item-meta' }, h('strong', { text: name }), h('span', { class: 'muted', text: ` ${where} · ${m.last_reply_at ? listTime(m.last_reply_at) : ''}` })),
          h('span', { class: 'thread-item-body', text: m.deleted ? 'This message was deleted.' : preview(plainText(m.body), 200) }),
          h('span', { class: 'muted thread-item-count', text: replyLabel(m.reply_count) })),
        unread > 0 ? h('span', { class: 'badge', testid: 'thread-unread', text: unread > 99 ? '99+' : String(unread) }) : null));
    });
    replace(listEl, ...items);
    if (listEl.parentNode !== body) replace(body, listEl);
  }
  const unsub = store.subscribe(['followedThreads', 'rooms', 'profilesVersion'], render);
  threads.loadFollowed().then(render, (err) => {
    toastError(err);
    replace(body, emptyState('alert', 'Could not load threads.', err.message ?? ''));
  });
  render();
  return { el, destroy: () => unsub() };
}

/** The sidebar's Threads entry, with the total of unread replies in followed threads. */
export function threadsNavLink(ctx) {
  const badge = h('span', { class: 'badge', testid: 'threads-unread', hidden: true });
  const el = h('a', { href: '/threads', class: 'nav-link threads-link', testid: 'threads-link' }, glyph('reply'), h('span', { text: 'Threads' }), badge);
  const render = () => {
    const n = Number(ctx.store.state.threadUnread) || 0;
    badge.hidden = n === 0;
    badge.textContent = n > 99 ? '99+' : String(n);
    el.setAttribute('aria-label', n > 0 ? `Threads, ${n} unread ${n === 1 ? 'reply' : 'replies'}` : 'Threads');
  };
  render();
  return { el, unsubscribe: ctx.store.subscribe(['threadUnread'], render) };
}
