// Personal access tokens, as a card: a form to create one, the new token's
// secret shown once with a Copy button, and the list with Revoke. The
// settings page manages the user's own (/api/auth/tokens); the admin page
// a bot's (/api/auth/bots/:id/tokens).

import { h, icon } from '../ui/dom.js';
import { confirmDialog, field, fieldError, toast, toastError } from '../ui/widgets.js';
import { fullTime, relativeTime } from '../lib/timefmt.js';
import { TOKEN_LIFETIMES, tokenExpiry, tokenFormError } from '../lib/tokens.js';

let seq = 0;

/** Copies the input's text: the Clipboard API, else the selection. */
async function copyFrom(input) {
  try {
    await navigator.clipboard.writeText(input.value);
    return true;
  } catch {
    input.focus();
    input.select();
    try {
      return document.execCommand('copy');
    } catch {
      return false;
    }
  }
}

/**
 * The tokens card. o: {base (the API collection), heading, intro, owner
 * (words for whose tokens: "your", "deploy-bot's")}.
 */
export function tokensCard(ctx, o) {
  const { api } = ctx;
  const id = `tokens-${++seq}`;
  const name = h('input', { type: 'text', maxlength: 64, autocomplete: 'off', testid: 'token-name', required: true });
  const expiry = h('select', { testid: 'token-expiry' }, TOKEN_LIFETIMES.map((l) => h('option', { value: String(l.days), text: l.label })));
  const error = h('div', { class: 'form-error', role: 'alert', testid: 'token-error', hidden: true });
  const created = h('div', { class: 'token-created', testid: 'token-created', hidden: true });
  const list = h('ul', { class: 'token-list', testid: 'token-list', 'aria-labelledby': `${id}-list` });
  const status = h('p', { class: 'muted small', 'aria-live': 'polite', testid: 'token-status' });
  const level = Number((o.headingLevel ?? 'h2').slice(1));
  const listHeading = h(`h${level + 1}`, { id: `${id}-list`, class: 'token-list-heading', text: 'Tokens' });

  function showError(message) {
    error.textContent = message;
    error.hidden = !message;
    fieldError(name, message && /name/i.test(message) ? message : '');
  }

  function showSecret(t) {
    const secret = h('input', { type: 'text', readonly: true, class: 'token-secret', testid: 'token-secret', value: t.token, spellcheck: false, autocomplete: 'off' });
    secret.setAttribute('aria-describedby', `${id}-once`);
    const copied = h('span', { class: 'muted small', 'aria-live': 'polite', testid: 'token-copied' });
    const copy = h('button', {
      type: 'button', class: 'btn btn-primary', testid: 'token-copy',
      onClick: async () => {
        const ok = await copyFrom(secret);
        copied.textContent = ok ? 'Copied to the clipboard.' : 'Select the token and copy it (Ctrl+C or ⌘C).';
      },
    }, 'Copy');
    created.replaceChildren(
      h('p', { class: 'callout', id: `${id}-once` }, h('strong', { text: `Token “${t.name}” created. ` }), 'Copy it now: it is shown only this once and cannot be seen again.'),
      h('div', { class: 'token-secret-row' }, h('label', { class: 'visually-hidden', for: `${id}-secret`, text: 'New token' }), secret, copy),
      copied,
      h('div', { class: 'form-actions' }, h('button', {
        type: 'button', class: 'btn btn-ghost', testid: 'token-done',
        onClick: () => {
          created.hidden = true;
          created.replaceChildren();
          name.focus();
        },
      }, 'Done')));
    secret.id = `${id}-secret`;
    created.hidden = false;
    secret.focus();
    secret.select();
  }

  function row(t) {
    const exp = tokenExpiry(t.expires_at);
    const used = t.last_used_at ? `Last used ${relativeTime(t.last_used_at)}` : 'Never used';
    const li = h('li', { class: ['token-item', exp.expired && 'expired'], testid: 'token-item', dataset: { tokenId: t.id, tokenName: t.name } },
      h('div', { class: 'token-text' },
        h('strong', { class: 'token-name', text: t.name }),
        h('code', { class: 'token-hint', title: 'The start of the token', text: `${t.hint}…` }),
        h('span', { class: 'muted small' },
          h('span', { title: fullTime(t.created_at), text: `Created ${relativeTime(t.created_at)}` }), ' · ',
          h('span', { class: exp.expired ? 'token-expired' : null, title: fullTime(t.expires_at), testid: 'token-expires', text: exp.text }), ' · ',
          h('span', { title: t.last_used_at ? fullTime(t.last_used_at) : null, text: used }))),
      h('button', {
        type: 'button', class: 'btn btn-ghost btn-danger-text', testid: 'token-revoke', 'aria-label': `Revoke ${t.name}`,
        onClick: async () => {
          const ok = await confirmDialog(`Revoke “${t.name}”?`, 'Programs using this token stop working within seconds, open connections included. This cannot be undone.', 'Revoke token', true, { fallback: () => listHeading });
          if (!ok) return;
          try {
            await api.del(`${o.base}/${t.id}`);
            const next = li.nextElementSibling ?? li.previousElementSibling;
            li.remove();
            toast(`Token “${t.name}” was revoked.`);
            (next?.querySelector('button') ?? name).focus();
            shown();
          } catch (err) {
            toastError(err);
          }
        },
      }, 'Revoke'));
    return li;
  }

  function shown() {
    const n = list.childElementCount;
    status.textContent = n === 0 ? 'No tokens yet.' : n === 1 ? '1 token.' : `${n} tokens.`;
  }

  async function load() {
    try {
      const res = await api.get(o.base);
      list.replaceChildren(...(res.tokens ?? []).map(row));
      shown();
    } catch (err) {
      status.textContent = err.message;
    }
  }

  const form = h('form', {
    class: 'token-form', novalidate: true, testid: 'token-form',
    onSubmit: async (e) => {
      e.preventDefault();
      if (!name.value.trim()) {
        showError(tokenFormError('name_required'));
        name.focus();
        return;
      }
      showError('');
      try {
        const t = await api.post(o.base, { name: name.value.trim(), expires_in_days: Number(expiry.value) });
        name.value = '';
        list.prepend(row(t));
        shown();
        showSecret(t);
      } catch (err) {
        showError(tokenFormError(err.code, err.message));
        name.focus();
      }
    },
  },
  h('div', { class: 'token-form-fields' },
    field('Token name', name, 'What will use it, such as “CI deploy”.'),
    field('Expires after', expiry)),
  error,
  h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', testid: 'token-create' }, icon('plus'), 'Create token')));

  load();
  return h('section', { class: 'card stack tokens-card', testid: o.testid ?? 'tokens-card', 'aria-labelledby': `${id}-heading` },
    h(o.headingLevel ?? 'h2', { id: `${id}-heading`, text: o.heading }),
    o.intro ? h('p', { class: 'muted', text: o.intro }) : null,
    form, created, listHeading, status, list);
}
