// One message in the timeline, as DOM. Everything the user wrote goes in as
// text nodes (links as <a> built from validated URLs), never as HTML.

import { h, icon, richText } from '../ui/dom.js';
import { avatar } from '../ui/widgets.js';
import { displayName } from '../lib/format.js';
import { fullTime, messageTime } from '../lib/timefmt.js';
import { reactedByMe } from '../lib/roomlog.js';

/** The quick reactions offered by the picker. */
export const QUICK_REACTIONS = ['👍', '❤️', '😂', '🎉', '😮', '😢', '🙏', '👀'];

/**
 * A key that changes whenever the message's rendering would: the list
 * reuses an element while its key stays the same.
 */
export function messageKey(msg, o) {
  return JSON.stringify([msg.id, msg.body, msg.deleted, msg.edited_at, msg.reactions, o.continued, o.name, o.avatar, o.editing, o.canEdit, o.canDelete, o.highlight]);
}

/**
 * Builds a message element. o: {continued, mine, name, canEdit, canDelete,
 * editing, highlight, onReact(btn), onToggleReaction(emoji), onEdit,
 * onDelete, onSaveEdit(body), onCancelEdit, onOpenUser(btn)}.
 */
export function messageElement(ctx, msg, o) {
  const meId = ctx.api.user?.id;
  const el = h('div', {
    class: ['msg', o.continued && 'continued', o.mine && 'mine', msg.deleted && 'deleted', o.highlight && 'highlight', o.editing && 'editing'],
    testid: 'message', role: 'article', tabindex: '-1',
    dataset: { id: msg.id, seq: msg.seq, userId: msg.user_id, author: msg.username },
    'aria-label': `${o.name}, ${fullTime(msg.created_at)}`,
  });
  const gutter = h('div', { class: 'msg-gutter' });
  if (o.continued) {
    gutter.append(h('time', { class: 'msg-hover-time', datetime: msg.created_at, title: fullTime(msg.created_at), text: messageTime(msg.created_at) }));
  } else {
    gutter.append(h('button', { type: 'button', class: 'avatar-btn', 'aria-label': `${o.name}'s profile`, onClick: (e) => o.onOpenUser(e.currentTarget) }, avatar(ctx, msg.user_id, o.name, 'md')));
  }
  const main = h('div', { class: 'msg-main' });
  if (!o.continued) {
    main.append(h('div', { class: 'msg-meta' },
      h('button', { type: 'button', class: 'msg-author', testid: 'message-author', text: o.name, onClick: (e) => o.onOpenUser(e.currentTarget) }),
      o.name !== msg.username ? h('span', { class: 'msg-username', text: `@${msg.username}` }) : null,
      h('time', { class: 'msg-time', datetime: msg.created_at, title: fullTime(msg.created_at), text: messageTime(msg.created_at) })));
  }
  if (msg.deleted) {
    main.append(h('div', { class: 'msg-body tombstone', testid: 'message-deleted' }, icon('trash'), 'This message was deleted.'));
  } else if (o.editing) {
    main.append(editBox(msg, o));
  } else {
    const body = h('div', { class: 'msg-body', testid: 'message-body' });
    body.append(richText(msg.body));
    if (msg.edited_at) body.append(h('span', { class: 'edited', testid: 'message-edited', title: `Edited ${fullTime(msg.edited_at)}`, text: ' (edited)' }));
    main.append(body);
  }
  if (!msg.deleted && msg.reactions.length > 0) {
    const bar = h('div', { class: 'reactions', testid: 'reactions' });
    for (const r of msg.reactions) {
      const mine = reactedByMe(r, meId);
      bar.append(h('button', {
        type: 'button', class: ['reaction', mine && 'mine'], testid: 'reaction-chip', dataset: { emoji: r.emoji, count: r.count },
        'aria-pressed': mine ? 'true' : 'false', 'aria-label': `${r.emoji} ${r.count} ${r.count === 1 ? 'reaction' : 'reactions'}${mine ? ', including yours' : ''}`,
        title: reactionTitle(ctx, r),
        onClick: () => o.onToggleReaction(r.emoji),
      }, h('span', { class: 'reaction-emoji', text: r.emoji }), h('span', { class: 'reaction-count', text: String(r.count) })));
    }
    bar.append(h('button', { type: 'button', class: 'reaction add', 'aria-label': 'Add reaction', onClick: (e) => o.onReact(e.currentTarget) }, icon('smile')));
    main.append(bar);
  }
  el.append(gutter, main);
  if (!msg.deleted && !o.editing) {
    const actions = h('div', { class: 'msg-actions', role: 'toolbar', 'aria-label': 'Message actions' },
      h('button', { type: 'button', class: 'icon-btn', testid: 'react-button', 'aria-label': 'Add reaction', title: 'Add reaction', onClick: (e) => o.onReact(e.currentTarget) }, icon('smile')),
      o.canEdit ? h('button', { type: 'button', class: 'icon-btn', testid: 'edit-message', 'aria-label': 'Edit message', title: 'Edit', onClick: () => o.onEdit() }, icon('edit')) : null,
      o.canDelete ? h('button', { type: 'button', class: 'icon-btn danger', testid: 'delete-message', 'aria-label': 'Delete message', title: 'Delete', onClick: () => o.onDelete() }, icon('trash')) : null);
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
  return h('div', { class: ['msg', 'mine', 'pending', failed && 'failed'], testid: failed ? 'message-failed' : 'message-pending', dataset: { clientMsgId: e.client_msg_id } },
    h('div', { class: 'msg-gutter' }, avatar(ctx, ctx.api.user?.id, name, 'md')),
    h('div', { class: 'msg-main' },
      h('div', { class: 'msg-meta' }, h('span', { class: 'msg-author', text: name }), h('span', { class: 'msg-time', text: failed ? 'Not sent' : 'Sending…' })),
      h('div', { class: 'msg-body' }, richText(e.body)),
      failed ? h('div', { class: 'pending-error' },
        h('span', { text: e.error || 'Could not send.' }),
        h('button', { type: 'button', class: 'link-btn', onClick: onRetry }, 'Retry'),
        h('button', { type: 'button', class: 'link-btn', onClick: onDiscard }, 'Discard')) : null));
}
