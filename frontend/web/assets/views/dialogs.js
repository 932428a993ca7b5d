// Modal dialogs: create a room, start a DM, invite someone, edit a room.

import { h, icon } from '../ui/dom.js';
import { avatar, field, modal, toast, toastError } from '../ui/widgets.js';
import { displayName } from '../lib/format.js';

/** Creates a public or private room and opens it. */
export function createRoomDialog(ctx) {
  return modal('Create a room', (close) => {
    const name = h('input', { name: 'name', required: true, maxlength: 64, testid: 'create-room-name', placeholder: 'e.g. design-reviews' });
    const desc = h('input', { name: 'description', maxlength: 500, testid: 'create-room-description', placeholder: 'What is it about?' });
    const pub = h('input', { type: 'radio', name: 'kind', value: 'public', checked: true, testid: 'create-room-public' });
    const priv = h('input', { type: 'radio', name: 'kind', value: 'private', testid: 'create-room-private' });
    const err = h('div', { class: 'form-error', role: 'alert', hidden: true });
    const submit = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'create-room-submit' }, 'Create room');
    return h('form', {
      class: 'stack', novalidate: true,
      onSubmit: async (e) => {
        e.preventDefault();
        if (!name.value.trim()) {
          err.textContent = 'Give the room a name.';
          err.hidden = false;
          return;
        }
        submit.disabled = true;
        try {
          const room = await ctx.chat.createRoom({ name: name.value.trim(), description: desc.value.trim(), kind: priv.checked ? 'private' : 'public' });
          close(room);
          ctx.router.go(`/rooms/${room.id}`);
        } catch (ex) {
          err.textContent = ex.message;
          err.hidden = false;
          submit.disabled = false;
        }
      },
    },
    field('Name', name),
    field('Description (optional)', desc),
    h('fieldset', { class: 'choice-group' },
      h('legend', { text: 'Visibility' }),
      h('label', { class: 'choice' }, pub, icon('hash'), h('span', {}, h('strong', { text: 'Public' }), h('small', { text: 'Anyone can find and join it.' }))),
      h('label', { class: 'choice' }, priv, icon('lock'), h('span', {}, h('strong', { text: 'Private' }), h('small', { text: 'Only invited members can see it.' })))),
    err,
    h('div', { class: 'modal-actions' }, h('button', { type: 'button', class: 'btn btn-ghost', onClick: () => close() }, 'Cancel'), submit));
  }, { testid: 'create-room-dialog' });
}

/**
 * A user search box over the directory (GET /profiles?q=) with a result
 * list; onPick(profile) runs when one is chosen.
 */
export function userPicker(ctx, onPick, { exclude = new Set(), actionLabel = 'Select', testid = 'user-picker' } = {}) {
  const input = h('input', { type: 'search', placeholder: 'Search people by name', 'aria-label': 'Search people', testid: `${testid}-input`, autocomplete: 'off' });
  const list = h('ul', { class: 'pick-list', role: 'listbox', 'aria-label': 'People' });
  let seq = 0;
  let timer = 0;
  async function search() {
    const mine = ++seq;
    try {
      const res = await ctx.api.get('/api/users/profiles', { q: input.value.trim(), limit: 20 });
      if (mine !== seq) return;
      list.replaceChildren();
      const people = (res.profiles ?? []).filter((p) => !exclude.has(Number(p.id)) && Number(p.id) !== ctx.api.user?.id);
      for (const p of people) {
        ctx.profiles.put(p);
        const name = displayName(p);
        list.append(h('li', {},
          h('button', { type: 'button', class: 'pick-item', testid: `${testid}-option`, dataset: { userId: p.id, username: p.username }, onClick: () => onPick(p) },
            avatar(ctx, p.id, name, 'sm'),
            h('span', { class: 'pick-text' }, h('span', { class: 'pick-name', text: name }), h('span', { class: 'pick-sub', text: `@${p.username}` })),
            h('span', { class: 'pick-action', text: actionLabel }))));
      }
      if (people.length === 0) list.append(h('li', { class: 'pick-empty', text: 'Nobody found.' }));
    } catch (err) {
      if (mine === seq) list.replaceChildren(h('li', { class: 'pick-empty', text: err.message }));
    }
  }
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(search, 150);
  });
  search();
  return h('div', { class: 'picker' }, input, list);
}

/** Starts (or reopens) a direct message with someone from the directory. */
export function newDMDialog(ctx) {
  return modal('New direct message', (close) => userPicker(ctx, async (p) => {
    try {
      const room = await ctx.chat.openDM(p.id);
      close(room);
      ctx.router.go(`/rooms/${room.id}`);
    } catch (err) {
      toastError(err);
    }
  }, { actionLabel: 'Message', testid: 'dm-picker' }), { testid: 'new-dm-dialog' });
}

/** Invites people to a room. */
export function inviteDialog(ctx, room) {
  const members = new Set((ctx.store.state.members[room.id] ?? []).map((m) => Number(m.user_id)));
  return modal(`Invite people to ${room.name}`, () => userPicker(ctx, async (p) => {
    try {
      await ctx.chat.invite(room.id, Number(p.id));
      members.add(Number(p.id));
      toast(`${displayName(p)} was added to ${room.name}.`);
      document.querySelector(`[data-testid="invite-picker-option"][data-user-id="${Number(p.id)}"]`)?.closest('li')?.remove();
    } catch (err) {
      toastError(err);
    }
  }, { exclude: members, actionLabel: 'Add', testid: 'invite-picker' }), { testid: 'invite-dialog' });
}

/** Edits a room's name and description. */
export function editRoomDialog(ctx, room) {
  return modal('Edit room', (close) => {
    const name = h('input', { value: room.name, maxlength: 64, required: true, testid: 'edit-room-name' });
    const desc = h('input', { value: room.description ?? '', maxlength: 500, testid: 'edit-room-description' });
    const err = h('div', { class: 'form-error', role: 'alert', hidden: true });
    return h('form', {
      class: 'stack',
      onSubmit: async (e) => {
        e.preventDefault();
        try {
          await ctx.chat.updateRoom(room.id, { name: name.value.trim(), description: desc.value.trim() });
          close(true);
        } catch (ex) {
          err.textContent = ex.message;
          err.hidden = false;
        }
      },
    }, field('Name', name), field('Description', desc), err,
    h('div', { class: 'modal-actions' }, h('button', { type: 'button', class: 'btn btn-ghost', onClick: () => close() }, 'Cancel'), h('button', { type: 'submit', class: 'btn btn-primary', testid: 'edit-room-save' }, 'Save')));
  });
}
