// The room's integrations: its incoming webhooks. Members create one (its
// secret URL shown once, with Copy and a curl example), see the room's
// list with who made each and when, and delete theirs (owners and admins
// any) after a confirmation.

import { h, icon } from '../ui/dom.js';
import { confirmDialog, field, fieldError, modal, toastError } from '../ui/widgets.js';
import { say } from '../ui/live.js';
import { dateOnly, fullTime } from '../lib/timefmt.js';
import { curlExample, webhookUrl } from '../lib/webhooks.js';

/** Opens the Integrations dialog of room r. */
export function webhooksDialog(ctx, r) {
  const { api } = ctx;
  const base = `/api/chat/rooms/${Number(r.id)}/webhooks`;
  return modal(`Integrations · ${r.name}`, () => {
    let hooks = [];
    const name = h('input', { name: 'name', maxlength: 64, required: true, autocomplete: 'off', testid: 'webhook-name', placeholder: 'e.g. CI builds' });
    const submit = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'webhook-create' }, icon('plus'), 'Create webhook');
    const err = h('div', { class: 'form-error', role: 'alert', hidden: true, testid: 'webhook-error' });
    const reveal = h('div', { class: 'webhook-reveal', testid: 'webhook-reveal', hidden: true });
    const list = h('ul', { class: 'webhook-list', testid: 'webhook-list', 'aria-labelledby': 'webhook-list-title' });
    const empty = h('p', { class: 'webhook-empty', testid: 'webhook-empty', text: 'No webhooks in this room yet.', hidden: true });
    const status = h('p', { class: 'webhook-empty', role: 'status', text: 'Loading webhooks…' });

    const fail = (ex) => {
      err.textContent = ex.message;
      err.hidden = false;
    };

    function canDelete(w) {
      return w.created_by === api.user?.id || r.role === 'owner' || api.user?.role === 'admin';
    }

    function renderList() {
      status.hidden = true;
      empty.hidden = hooks.length > 0;
      list.replaceChildren(...hooks.map((w) => h('li', { class: 'webhook-item', testid: 'webhook-item', dataset: { id: w.id } },
        h('span', { class: 'webhook-icon', 'aria-hidden': 'true' }, icon('send')),
        h('span', { class: 'webhook-text' },
          h('span', { class: 'webhook-item-name', text: w.name }),
          h('span', { class: 'webhook-item-sub' },
            `Created by @${w.created_by_username || `user ${w.created_by}`} on `,
            h('time', { datetime: w.created_at, title: fullTime(w.created_at), text: dateOnly(w.created_at) }))),
        canDelete(w) ? h('button', {
          type: 'button', class: 'btn btn-small btn-ghost danger', testid: 'webhook-delete', 'aria-label': `Delete webhook ${w.name}`,
          onClick: () => remove(w),
        }, icon('trash'), h('span', { class: 'webhook-delete-label', text: 'Delete' })) : null)));
    }

    async function load() {
      try {
        const res = await api.get(base);
        hooks = res.webhooks ?? [];
        renderList();
      } catch (ex) {
        status.textContent = ex.message;
      }
    }

    function showOnce(w) {
      const url = webhookUrl(w.url, api.baseUrl, location.origin);
      const urlInput = h('input', { type: 'text', readonly: true, value: url, class: 'webhook-url', testid: 'webhook-url', spellcheck: 'false', 'aria-label': `URL of webhook ${w.name}`, 'aria-describedby': 'webhook-once' });
      urlInput.addEventListener('focus', () => urlInput.select());
      const copied = h('span', { class: 'webhook-copied', role: 'status', testid: 'webhook-copied' });
      const copy = h('button', {
        type: 'button', class: 'btn btn-primary', testid: 'webhook-copy',
        onClick: async () => {
          try {
            await navigator.clipboard.writeText(url);
            copied.textContent = 'Copied.';
          } catch {
            urlInput.focus();
            copied.textContent = 'Press Ctrl+C (⌘C) to copy the selected URL.';
          }
        },
      }, 'Copy URL');
      reveal.replaceChildren(
        h('p', { class: 'webhook-reveal-title' }, icon('check'), h('strong', { text: `Webhook “${w.name}” created` })),
        h('p', { id: 'webhook-once', class: 'webhook-hint', text: 'Copy its URL now: it is shown only this once. Anyone who has it can post to this room.' }),
        h('div', { class: 'webhook-url-row' }, urlInput, copy),
        copied,
        h('p', { class: 'webhook-hint', text: 'Try it from a terminal:' }),
        h('pre', { class: 'webhook-curl', testid: 'webhook-curl', tabindex: '0', 'aria-label': 'Example curl command' }, h('code', { text: curlExample(url, `Hello from ${w.name}`) })));
      reveal.hidden = false;
      urlInput.focus();
      say(`Webhook ${w.name} created. Its URL is selected: copy it now, it is shown only once.`);
    }

    async function remove(w) {
      const ok = await confirmDialog(`Delete webhook ${w.name}?`, 'Anything still posting to its URL will be refused from now on. The messages it posted stay.', 'Delete webhook', true);
      if (!ok) return;
      const i = hooks.findIndex((x) => x.id === w.id);
      try {
        await api.del(`/api/chat/webhooks/${Number(w.id)}`);
      } catch (ex) {
        if (ex.status !== 404) {
          toastError(ex);
          return;
        }
      }
      hooks = hooks.filter((x) => x.id !== w.id);
      renderList();
      say(`Webhook ${w.name} deleted.`);
      // The focus goes to the next webhook's Delete, else the name box.
      const next = list.querySelectorAll('[data-testid=webhook-delete]')[Math.min(i, hooks.length - 1)];
      (next ?? name).focus();
    }

    const form = h('form', {
      class: 'webhook-form', novalidate: true,
      onSubmit: async (e) => {
        e.preventDefault();
        err.hidden = true;
        const v = name.value.trim();
        fieldError(name, v ? '' : 'Give the webhook a name.');
        if (!v) {
          name.focus();
          return;
        }
        submit.disabled = true;
        try {
          const w = await api.post(base, { name: v });
          name.value = '';
          hooks = [...hooks, w];
          renderList();
          showOnce(w);
        } catch (ex) {
          fail(ex);
        } finally {
          submit.disabled = false;
        }
      },
    },
    field('Name', name, 'Shown as the sender of what it posts, with an APP tag.'),
    h('div', { class: 'webhook-form-actions' }, submit));

    load();
    return [
      h('section', { class: 'webhook-section', 'aria-labelledby': 'webhook-new-title' },
        h('h3', { id: 'webhook-new-title', text: 'Incoming webhooks' }),
        h('p', { class: 'modal-text', text: 'A webhook is a secret URL: a CI job, an alert or a script posts {"text": "…"} to it and the text appears in this room.' }),
        form, err, reveal),
      h('section', { class: 'webhook-section', 'aria-labelledby': 'webhook-list-title' },
        h('h3', { id: 'webhook-list-title', text: 'Webhooks in this room' }),
        status, empty, list),
    ];
  }, { testid: 'webhooks-dialog', wide: true });
}
