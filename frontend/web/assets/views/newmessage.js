// The new-message dialog: pick one person (a direct message) or several (a
// group conversation, up to 8 others). Picked people become chips: each is
// a button that removes them (Backspace in the empty search box removes the
// last); "Start conversation", or Enter in the empty search box, opens it.

import { h, icon } from '../ui/dom.js';
import { modal } from '../ui/widgets.js';
import { displayName } from '../lib/format.js';
import { GROUP_MAX, dmRequest } from '../lib/mentions.js';
import { userPicker } from './dialogs.js';

export function newMessageDialog(ctx) {
  return modal('New message', (close) => {
    const chosen = []; // profiles
    const exclude = new Set();
    const chips = h('ul', { class: 'chips', testid: 'dm-chips', 'aria-label': 'People in the conversation' });
    const note = h('p', { class: 'muted chips-note', id: 'dm-chips-note', testid: 'dm-note' });
    const err = h('div', { class: 'form-error', role: 'alert', testid: 'dm-error', hidden: true });
    const start = h('button', { type: 'button', class: 'btn btn-primary', testid: 'dm-start', 'aria-disabled': 'true', onClick: () => open() }, 'Start conversation');
    const picker = userPicker(ctx, (p) => add(p), { exclude, actionLabel: 'Add', testid: 'dm-picker' });
    const input = picker.el.querySelector('input');
    input.setAttribute('aria-describedby', note.id);

    function fail(text) {
      err.textContent = text;
      err.hidden = !text;
    }

    function draw() {
      chips.replaceChildren(...chosen.map((p) => {
        const name = displayName(p);
        return h('li', {}, h('button', {
          type: 'button', class: 'chip', testid: 'dm-chip', dataset: { userId: p.id, username: p.username },
          'aria-label': `Remove ${name}`, title: `Remove ${name}`, onClick: () => remove(p.id),
        }, h('span', { text: name }), icon('x')));
      }));
      chips.hidden = chosen.length === 0;
      note.textContent = chosen.length === 0
        ? 'Pick one person for a direct message, or several for a group.'
        : chosen.length === 1 ? `A direct message with ${displayName(chosen[0])}. Add more people for a group.` : `A group of ${chosen.length + 1} with you (at most ${GROUP_MAX} others).`;
      start.setAttribute('aria-disabled', chosen.length ? 'false' : 'true');
    }

    function add(p) {
      if (chosen.some((c) => Number(c.id) === Number(p.id))) return;
      if (chosen.length >= GROUP_MAX) {
        fail(`A group conversation can have at most ${GROUP_MAX} other people.`);
        return;
      }
      fail('');
      chosen.push(p);
      picker.remove(p.id);
      input.value = '';
      input.dispatchEvent(new Event('input'));
      draw();
      input.focus();
    }

    function remove(id) {
      const i = chosen.findIndex((c) => Number(c.id) === Number(id));
      if (i < 0) return;
      const [p] = chosen.splice(i, 1);
      exclude.delete(Number(id));
      fail('');
      draw();
      input.focus();
      input.dispatchEvent(new Event('input'));
      return p;
    }

    let busy = false;
    async function open() {
      if (busy) return;
      const req = dmRequest(chosen);
      if (req.error) {
        fail(req.error);
        return;
      }
      busy = true;
      try {
        const room = req.body.user_ids ? await ctx.chat.openGroup(req.body.user_ids) : await ctx.chat.openDM(req.body.user_id, req.body.username);
        close(room, { focus: false }); // the conversation's heading takes it
        ctx.router.go(`/rooms/${room.id}`);
      } catch (e) {
        fail(e.message);
      } finally {
        busy = false;
      }
    }

    input.addEventListener('keydown', (e) => {
      if (e.defaultPrevented) return;
      if (e.key === 'Enter' && input.value.trim() === '' && chosen.length) {
        e.preventDefault();
        open();
      } else if (e.key === 'Backspace' && input.value === '' && chosen.length) {
        e.preventDefault();
        remove(chosen.at(-1).id);
      }
    });
    draw();
    return [chips, picker.el, note, err, h('div', { class: 'modal-actions' },
      h('button', { type: 'button', class: 'btn btn-ghost', onClick: () => close() }, 'Cancel'), start)];
  }, { testid: 'new-dm-dialog' });
}
