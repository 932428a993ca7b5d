// Modal dialogs: create a room, start a DM, invite someone, edit a room.

import { h, icon } from '../ui/dom.js';
import { avatar, field, fieldError, modal, toast, toastError } from '../ui/widgets.js';
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
        fieldError(name, name.value.trim() ? '' : 'Give the room a name.');
        if (!name.value.trim()) {
          name.focus();
          return;
        }
        submit.disabled = true;
        try {
          const room = await ctx.chat.createRoom({ name: name.value.trim(), description: desc.value.trim(), kind: priv.checked ? 'private' : 'public' });
          close(room, { focus: false }); // the new room's heading takes it
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

let pickerSeq = 0;

/**
 * A user search box over the directory (GET /profiles?q=): a combobox
 * whose listbox of people is walked with the arrow keys while the focus
 * stays in the box (aria-activedescendant); Enter or a click picks.
 * onPick(profile) runs with the choice. Returns {el, remove(userId)}.
 */
export function userPicker(ctx, onPick, { exclude = new Set(), actionLabel = 'Select', testid = 'user-picker' } = {}) {
  const listId = `${testid}-list-${++pickerSeq}`;
  const input = h('input', {
    type: 'text', role: 'combobox', placeholder: 'Search people by name', 'aria-label': 'Search people', testid: `${testid}-input`,
    autocomplete: 'off', spellcheck: 'false', 'aria-autocomplete': 'list', 'aria-controls': listId, 'aria-expanded': 'false',
  });
  const list = h('ul', { class: 'pick-list', role: 'listbox', id: listId, tabindex: '-1', 'aria-label': 'People', testid: `${testid}-list`, hidden: true });
  const status = h('p', { class: 'pick-empty', role: 'status', testid: `${testid}-status` });
  let options = []; // [{el, profile}]
  let active = -1;
  let found = 0; // matches before the excluded were taken out
  let seq = 0;
  let timer = 0;

  function setActive(i) {
    const old = options[active]?.el;
    old?.classList.remove('active');
    old?.setAttribute('aria-selected', 'false');
    active = i;
    const el = options[i]?.el;
    if (el) {
      el.classList.add('active');
      el.setAttribute('aria-selected', 'true');
      input.setAttribute('aria-activedescendant', el.id);
      el.scrollIntoView({ block: 'nearest' });
    } else {
      input.removeAttribute('aria-activedescendant');
    }
  }

  function renderOptions() {
    list.replaceChildren(...options.map((o) => o.el));
    list.hidden = options.length === 0;
    input.setAttribute('aria-expanded', options.length ? 'true' : 'false');
    if (active >= options.length) active = options.length - 1;
    setActive(active);
    if (options.length) status.textContent = options.length === 1 ? '1 person found.' : `${options.length} people found.`;
    else status.textContent = found > 0 ? 'Everyone found is already a member.' : 'Nobody found.';
  }

  function option(p, i) {
    const name = displayName(p);
    const el = h('li', {
      role: 'option', id: `${listId}-${p.id}`, 'aria-selected': 'false', class: 'pick-item',
      testid: `${testid}-option`, dataset: { userId: p.id, username: p.username },
      onClick: () => onPick(p),
      // A click must not take the focus out of the search box.
      onMousedown: (e) => e.preventDefault(),
    },
    avatar(ctx, p.id, name, 'sm'),
    h('span', { class: 'pick-text' }, h('span', { class: 'pick-name', text: name }), h('span', { class: 'pick-sub', text: `@${p.username}` })),
    h('span', { class: 'pick-action', 'aria-hidden': 'true', text: actionLabel }));
    el.addEventListener('mouseenter', () => setActive(options.findIndex((o) => o.el === el)));
    return { el, profile: p, index: i };
  }

  async function search() {
    const mine = ++seq;
    try {
      const res = await ctx.api.get('/api/users/profiles', { q: input.value.trim(), limit: 20 });
      if (mine !== seq) return;
      const all = (res.profiles ?? []).filter((p) => Number(p.id) !== ctx.api.user?.id);
      found = all.length;
      const people = all.filter((p) => !exclude.has(Number(p.id)));
      for (const p of people) ctx.profiles.put(p);
      options = people.map(option);
      active = -1;
      renderOptions();
    } catch (err) {
      if (mine !== seq) return;
      options = [];
      found = 0;
      renderOptions();
      status.textContent = err.message;
    }
  }
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(search, 150);
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown' && options.length) {
      e.preventDefault();
      setActive(Math.min(options.length - 1, active + 1));
    } else if (e.key === 'ArrowUp' && options.length) {
      e.preventDefault();
      setActive(Math.max(0, active - 1));
    } else if (e.key === 'Enter' && active >= 0) {
      e.preventDefault();
      onPick(options[active].profile);
    }
  });
  search();
  return {
    el: h('div', { class: 'picker' }, input, list, status),
    /** Takes a person out of the list (added to the room). */
    remove(userId) {
      exclude.add(Number(userId));
      const i = options.findIndex((o) => Number(o.profile.id) === Number(userId));
      if (i < 0) return;
      options.splice(i, 1);
      if (active > i) active--;
      renderOptions();
    },
  };
}

/** Starts (or reopens) a direct message with someone from the directory. */
export function newDMDialog(ctx) {
  return modal('New direct message', (close) => userPicker(ctx, async (p) => {
    try {
      const room = await ctx.chat.openDM(p.id, p.username);
      close(room, { focus: false }); // the conversation's heading takes it
      ctx.router.go(`/rooms/${room.id}`);
    } catch (err) {
      toastError(err);
    }
  }, { actionLabel: 'Message', testid: 'dm-picker' }).el, { testid: 'new-dm-dialog' });
}

/** Invites people to a room. */
export function inviteDialog(ctx, room) {
  const members = new Set((ctx.store.state.members[room.id] ?? []).map((m) => Number(m.user_id)));
  return modal(`Invite people to ${room.name}`, (close) => {
    const picker = userPicker(ctx, async (p) => {
      try {
        await ctx.chat.invite(room.id, Number(p.id), p.username);
        toast(`${displayName(p)} was added to ${room.name}.`);
        picker.remove(p.id);
      } catch (err) {
        toastError(err);
      }
    }, { exclude: members, actionLabel: 'Add', testid: 'invite-picker' });
    // Inviting leaves the dialog open for the next person: Done (the next
    // stop for Tab after the search box) is how it ends, the focus going
    // back to whatever opened it, as Escape and Close do.
    return [picker.el, h('div', { class: 'modal-actions' },
      h('button', { type: 'button', class: 'btn btn-primary', testid: 'invite-done', onClick: () => close() }, 'Done'))];
  }, { testid: 'invite-dialog' });
}

/** Edits a room's name and description. */
export function editRoomDialog(ctx, room) {
  return modal('Edit room', (close) => {
    const name = h('input', { value: room.name, maxlength: 64, required: true, testid: 'edit-room-name' });
    const desc = h('input', { value: room.description ?? '', maxlength: 500, testid: 'edit-room-description' });
    const err = h('div', { class: 'form-error', role: 'alert', hidden: true });
    return h('form', {
      class: 'stack', novalidate: true,
      onSubmit: async (e) => {
        e.preventDefault();
        fieldError(name, name.value.trim() ? '' : 'Give the room a name.');
        if (!name.value.trim()) {
          name.focus();
          return;
        }
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
