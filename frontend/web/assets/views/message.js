// One message in the timeline, as DOM. Everything the user wrote goes in as
// text nodes (links as <a> built from validated URLs), never as HTML.

import { h, icon, richText } from '../ui/dom.js';
import { avatar } from '../ui/widgets.js';
import { botTag } from '../ui/bottag.js';
import { displayName } from '../lib/format.js';
import { fullTime, messageTime } from '../lib/timefmt.js';
import { reactedByMe } from '../lib/roomlog.js';
import { threadActions, threadSummary } from './thread.js';
import { mentionBody, mentionsMe } from './direct.js';
import { messageFiles, pendingFiles } from './files.js';
import { pinAction, pinMarker } from './pins.js';

/** The quick reactions offered by the picker. */
export const QUICK_REACTIONS = ['👍', '❤️', '😂', '🎉', '😮', '😢', '🙏', '👀'];

/**
 * What a message's rendering depends on besides the message object itself
 * (which RoomLog replaces whenever it changes): the list rebuilds an
 * element only when the message or one of these differs.
 */
export function sameLook(a, b) {
  return a.continued === b.continued && a.name === b.name && a.bot === b.bot && a.avatar === b.avatar && a.editing === b.editing &&
    a.canEdit === b.canEdit && a.canDelete === b.canDelete && a.highlight === b.highlight && a.threadSig === b.threadSig &&
    a.canPin === b.canPin;
}

/** Reactions said in words: "Reactions: 👍 2, 🎉 1, including yours". */
export function reactionSummary(reactions, meId) {
  if (!reactions?.length) return '';
  const mine = reactions.some((r) => reactedByMe(r, meId));
  return `Reactions: ${reactions.map((r) => `${r.emoji} ${r.count}`).join(', ')}${mine ? ', including yours' : ''}`;
}

/**
 * Builds a message element. o: {continued, mine, name, canEdit, canDelete,
 * editing, highlight, onReact(btn), onToggleReaction(emoji), onEdit,
 * onDelete, onSaveEdit(body), onCancelEdit, onOpenUser(btn)}.
 *
 * The article is named author, text, time, then reactions — the order
 * screen-reader users ask chat clients for — from parts of its own content
 * (aria-labelledby), so the name never disagrees with what is shown. Its
 * controls start outside the Tab order; the list's roving tabindex puts
 * the current message's controls in it.
 */
export function messageElement(ctx, msg, o) {
  const meId = ctx.api.user?.id;
  const id = `msg-${msg.id}`;
  const parts = [`${id}-a`, `${id}-b`, `${id}-t`];
  const el = h('div', {
    class: ['msg', o.continued && 'continued', o.mine && 'mine', msg.deleted && 'deleted', o.highlight && 'highlight', o.editing && 'editing', mentionsMe(msg, ctx.api.user) && 'mentions-me'],
    testid: 'message', role: 'article', tabindex: '-1',
    dataset: { id: msg.id, seq: msg.seq, userId: msg.user_id, author: msg.username, focusKey: 'message' },
  });
  const userButton = (cls, key, label, ...children) => h('button', {
    type: 'button', class: cls, tabindex: '-1', 'aria-haspopup': 'menu', 'aria-expanded': 'false', 'aria-label': label,
    dataset: { focusKey: key }, onClick: (e) => o.onOpenUser(e.currentTarget),
  }, ...children);
  const gutter = h('div', { class: 'msg-gutter' });
  if (o.continued) {
    gutter.append(h('time', { class: 'msg-hover-time', datetime: msg.created_at, title: fullTime(msg.created_at), 'aria-hidden': 'true', text: messageTime(msg.created_at) }));
  } else {
    gutter.append(msg.webhook ? appAvatar(o.name) : userButton('avatar-btn', 'avatar', `${o.name}'s profile`, avatar(ctx, msg.user_id, o.name, 'md')));
  }
  const main = h('div', { class: 'msg-main' });
  if (o.continued) {
    main.append(h('span', { id: `${id}-a`, hidden: true, text: msg.webhook ? `${o.name}, app` : o.name }));
  } else {
    const author = msg.webhook ? appAuthor(msg, o.name) : userButton('msg-author', 'author', null, o.name);
    author.removeAttribute('aria-label');
    author.id = `${id}-a`;
    author.dataset.testid = 'message-author';
    main.append(h('div', { class: 'msg-meta' },
      author,
      o.bot ? botTag({ is_bot: true }) : null,
      o.name !== msg.username ? h('span', { class: 'msg-username', text: `@${msg.username}` }) : null,
      h('time', { class: 'msg-time', datetime: msg.created_at, title: fullTime(msg.created_at), 'aria-hidden': 'true', text: messageTime(msg.created_at) })));
  }
  if (msg.deleted) {
    main.append(h('div', { class: 'msg-body tombstone', id: `${id}-b`, testid: 'message-deleted' }, icon('trash'), 'This message was deleted.'));
  } else if (o.editing) {
    main.append(h('span', { id: `${id}-b`, hidden: true, text: msg.body }), editBox(msg, o));
  } else {
    const body = h('div', { class: 'msg-body', id: `${id}-b`, testid: 'message-body' });
    body.append(mentionBody(ctx, msg));
    if (msg.edited_at) body.append(h('span', { class: 'edited', testid: 'message-edited', title: `Edited ${fullTime(msg.edited_at)}`, text: ' (edited)' }));
    if (msg.body === '' && !msg.edited_at) body.hidden = true; // files only
    main.append(body);
  }
  // Attachments (views/files.js), named in the article's label after the text.
  const files = o.editing ? null : messageFiles(ctx, msg, { labelId: `${id}-f` });
  if (files) {
    parts.splice(2, 0, `${id}-f`); // after the text, before the time
    main.append(files);
  }
  main.append(h('span', { id: `${id}-t`, hidden: true, text: fullTime(msg.created_at) }));
  const pinned = pinMarker(ctx, msg, id, parts);
  if (pinned) main.prepend(pinned);
  if (!msg.deleted && msg.reactions.length > 0) {
    parts.push(`${id}-r`);
    main.append(h('span', { id: `${id}-r`, hidden: true, text: reactionSummary(msg.reactions, meId) }));
    const bar = h('div', { class: 'reactions', testid: 'reactions' });
    for (const r of msg.reactions) {
      const mine = reactedByMe(r, meId);
      bar.append(h('button', {
        type: 'button', tabindex: '-1', class: ['reaction', mine && 'mine'], testid: 'reaction-chip', dataset: { emoji: r.emoji, count: r.count, focusKey: `reaction-${r.emoji}` },
        'aria-pressed': mine ? 'true' : 'false', 'aria-label': `${r.emoji} ${r.count} ${r.count === 1 ? 'reaction' : 'reactions'}${mine ? ', including yours' : ''}`,
        title: reactionTitle(ctx, r),
        onClick: () => o.onToggleReaction(r.emoji),
      }, h('span', { class: 'reaction-emoji', text: r.emoji }), h('span', { class: 'reaction-count', text: String(r.count) })));
    }
    if (o.onReact) bar.append(h('button', {
      type: 'button', tabindex: '-1', class: 'reaction add', 'aria-label': 'Add reaction', title: 'Add reaction', 'aria-haspopup': 'dialog', 'aria-expanded': 'false',
      dataset: { focusKey: 'add-reaction' }, onClick: (e) => o.onReact(e.currentTarget),
    }, icon('smile')));
    main.append(bar);
  }
  if (o.thread) main.append(threadSummary(ctx, msg, o.thread, id, parts));
  el.setAttribute('aria-labelledby', parts.join(' '));
  el.append(gutter, main);
  if (!msg.deleted && !o.editing) {
    const actions = h('div', { class: 'msg-actions', role: 'toolbar', 'aria-label': 'Message actions', testid: 'message-actions' },
      o.onReact ? h('button', { type: 'button', tabindex: '-1', class: 'icon-btn', testid: 'react-button', 'aria-label': 'Add reaction', title: 'Add reaction', 'aria-haspopup': 'dialog', 'aria-expanded': 'false', onClick: (e) => o.onReact(e.currentTarget) }, icon('smile')) : null,
      ...threadActions(msg, o),
      pinAction(msg, o),
      o.canEdit ? h('button', { type: 'button', tabindex: '-1', class: 'icon-btn', testid: 'edit-message', 'aria-label': 'Edit message', title: 'Edit', onClick: () => o.onEdit() }, icon('edit')) : null,
      o.canDelete ? h('button', { type: 'button', tabindex: '-1', class: 'icon-btn danger', testid: 'delete-message', 'aria-label': 'Delete message', title: 'Delete', onClick: () => o.onDelete() }, icon('trash')) : null);
    el.append(actions);
  }
  return el;
}

function reactionTitle(ctx, r) {
  const names = r.user_ids.slice(0, 8).map((id) => (id === ctx.api.user?.id ? 'you' : displayName(ctx.profiles.get(id), `user ${id}`)));
  if (names.length === 0) return r.emoji;
  const more = r.count > names.length ? ` and ${r.count - names.length} more` : '';
  return `${names.join(', ')}${more} reacted with ${r.emoji}`;
}

function editBox(msg, o) {
  const ta = h('textarea', { class: 'edit-input', testid: 'edit-input', rows: 2, 'aria-label': 'Edit message', maxlength: 4000 });
  ta.value = msg.body;
  const save = () => {
    const v = ta.value;
    if (v.trim() === '') return;
    if (v === msg.body) o.onCancelEdit();
    else o.onSaveEdit(v);
  };
  ta.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      save();
    } else if (e.key === 'Escape') {
      e.preventDefault();
      e.stopPropagation();
      o.onCancelEdit();
    }
  });
  queueMicrotask(() => {
    ta.focus();
    ta.setSelectionRange(ta.value.length, ta.value.length);
  });
  return h('div', { class: 'edit-box' }, ta,
    h('div', { class: 'edit-actions' },
      h('span', { class: 'edit-hint', text: 'Enter to save · Esc to cancel' }),
      h('button', { type: 'button', class: 'btn btn-small btn-ghost', testid: 'edit-cancel', onClick: () => o.onCancelEdit() }, 'Cancel'),
      h('button', { type: 'button', class: 'btn btn-small btn-primary', testid: 'edit-save', onClick: save }, 'Save')));
}

/** An outbox entry shown at the end of the timeline until acknowledged. */
export function pendingElement(ctx, e, name, { onRetry, onDiscard }) {
  const failed = e.state === 'failed';
  return h('div', { class: ['msg', 'mine', 'pending', failed && 'failed'], testid: failed ? 'message-failed' : 'message-pending', dataset: { clientMsgId: e.client_msg_id, focusKey: `pending-${e.client_msg_id}` } },
    h('div', { class: 'msg-gutter' }, avatar(ctx, ctx.api.user?.id, name, 'md')),
    h('div', { class: 'msg-main' },
      h('div', { class: 'msg-meta' }, h('span', { class: 'msg-author', text: name }), h('span', { class: 'msg-time', text: failed ? 'Not sent' : 'Sending…' })),
      e.body ? h('div', { class: 'msg-body' }, richText(e.body)) : null,
      pendingFiles(ctx, e.files),
      failed ? h('div', { class: 'pending-error' },
        h('span', { text: e.error || 'Could not send.' }),
        h('button', { type: 'button', class: 'link-btn', 'aria-label': 'Retry sending', dataset: { focusKey: `retry-${e.client_msg_id}` }, onClick: onRetry }, 'Retry'),
        h('button', { type: 'button', class: 'link-btn', 'aria-label': 'Discard message', dataset: { focusKey: `discard-${e.client_msg_id}` }, onClick: onDiscard }, 'Discard')) : null));
}

/**
 * A webhook's post names it, not a person (user_id 0): its name with an
 * APP tag (read as "CI, app"), and no profile to open.
 */
function appAuthor(msg, name) {
  const via = msg.webhook.name && msg.webhook.name !== name ? ` (webhook ${msg.webhook.name})` : '';
  return h('span', { class: 'msg-author app-author', title: `Posted by a webhook${via}` },
    name, h('span', { class: 'app-tag', testid: 'app-tag', 'aria-label': ', app' }, h('span', { 'aria-hidden': 'true', text: 'APP' })));
}

function appAvatar(name) {
  return h('span', { class: 'avatar avatar-md app-avatar', 'aria-hidden': 'true', title: name }, icon('send'));
}
