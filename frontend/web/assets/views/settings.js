// Settings: theme (persisted in user-service so it follows the user),
// notification preferences, password, personal access tokens, sessions.

import { h, icon } from '../ui/dom.js';
import { confirmDialog, field, fieldError, spinner, toast, toastError } from '../ui/widgets.js';
import { notificationPermission } from '../ui/notifyperm.js';
import { viewHeader } from './shell.js';
import { tokensCard } from './tokens.js';

// The API's validation codes, said the way the form's fields are named.
const passwordErrors = {
  current_password_required: { cur: 'Enter your current password.' },
  wrong_password: { cur: 'The current password is wrong.' },
  new_password_required: { next: 'The new password needs at least 8 characters.' },
  password_too_short: { next: 'The new password needs at least 8 characters.' },
  password_too_long: { next: 'The new password can be at most 72 bytes long.' },
};

/**
 * The settings page; query.focus === 'password' (the generated-password
 * notice's link) puts the focus in the password form once it is drawn.
 */
export function settingsView(ctx, query = {}) {
  const { api, store } = ctx;
  const focusPassword = query.focus === 'password';
  const body = h('div', { class: 'page-body narrow' }, spinner());
  const el = h('section', { class: 'page', testid: 'settings-view' }, viewHeader(ctx, [h('h1', { text: 'Settings' })]), body);

  async function save(patch) {
    try {
      const s = await api.put('/api/users/settings/me', patch);
      ctx.applySettings(s);
      return s;
    } catch (err) {
      toastError(err);
      throw err;
    }
  }

  function render(s) {
    const theme = s.theme || 'system';
    const themeOption = (value, label, iconName) => {
      const input = h('input', { type: 'radio', name: 'theme', value, checked: theme === value, testid: `theme-${value}` });
      input.addEventListener('change', async () => {
        ctx.applySettings({ ...store.state.settings, theme: value }); // at once; the server confirms
        try {
          await save({ theme: value });
          toast(`Theme: ${label.toLowerCase()}.`);
        } catch {
          ctx.applySettings(s);
        }
      });
      return h('label', { class: 'theme-option' }, input, h('span', { class: `theme-preview theme-preview-${value}` }, h('span'), h('span'), h('span')), h('span', { class: 'theme-label' }, icon(iconName), label, icon('check', 'theme-check')));
    };
    const toggle = (key, label, hint) => {
      const input = h('input', { type: 'checkbox', role: 'switch', checked: !!s.notifications?.[key], testid: `notify-${key}` });
      input.addEventListener('change', async () => {
        try {
          const ns = await save({ notifications: { [key]: input.checked } });
          s = ns;
          if (key === 'desktop' && input.checked && 'Notification' in window && Notification.permission === 'default') Notification.requestPermission().catch(() => {});
        } catch {
          input.checked = !input.checked;
        }
      });
      return h('label', { class: 'switch-row' }, h('span', {}, h('strong', { text: label }), h('small', { text: hint })), input);
    };
    body.replaceChildren(
      h('div', { class: 'card stack' },
        h('h2', { text: 'Appearance' }),
        h('fieldset', { class: 'theme-options' }, h('legend', { class: 'visually-hidden', text: 'Theme' }),
          themeOption('light', 'Light', 'sun'), themeOption('dark', 'Dark', 'moon'), themeOption('system', 'System', 'monitor'))),
      h('div', { class: 'card stack' },
        h('h2', { text: 'Notifications' }),
        toggle('desktop', 'Desktop notifications', 'Show a notification for new messages while Parley is in the background.'),
        notificationPermission(),
        toggle('sound', 'Sound', 'Play a sound for new messages.'),
        toggle('mentions_only', 'Mentions only', 'Only notify when someone mentions you.')),
      passwordCard(),
      tokensCard(ctx, {
        base: '/api/auth/tokens', heading: 'Personal access tokens', testid: 'settings-tokens',
        intro: 'A token lets a script or program use the API as you (send "Authorization: Bearer <token>", or the WebSocket auth frame). It cannot change your password or make more tokens.',
      }),
      h('div', { class: 'card stack' },
        h('h2', { text: 'Account' }),
        h('p', { class: 'muted', text: `Signed in as @${api.user?.username} (${api.user?.role}).` }),
        h('div', { class: 'form-actions' },
          h('button', { type: 'button', class: 'btn btn-danger', testid: 'settings-logout', onClick: () => ctx.logout() }, icon('logout'), 'Sign out'),
          h('button', { type: 'button', class: 'btn btn-ghost', testid: 'settings-logout-all', onClick: signOutEverywhere }, 'Sign out everywhere')),
        h('p', { class: 'muted small', text: 'Sign out everywhere ends every session of your account — other browsers, phones and this one — within seconds.' })));
  }

  async function signOutEverywhere() {
    if (!(await confirmDialog('Sign out everywhere?', 'Every device signed in to your account is signed out, this one too.', 'Sign out everywhere', true))) return;
    try {
      await api.post('/api/auth/sessions/revoke-all');
      ctx.logout();
    } catch (err) {
      toastError(err);
    }
  }

  function passwordCard() {
    const cur = h('input', { type: 'password', autocomplete: 'current-password', testid: 'password-current' });
    const next = h('input', { type: 'password', autocomplete: 'new-password', minlength: 8, maxlength: 72, testid: 'password-new' });
    const err = h('div', { class: 'form-error', role: 'alert', testid: 'password-error', hidden: true });
    const generated = api.user?.must_change_password
      ? h('p', { class: 'callout', testid: 'password-generated', text: 'Your password was generated when Parley was set up. Choose your own: the current password is the one in the server log.' })
      : null;
    const show = (fieldMessages, general) => {
      fieldError(cur, fieldMessages.cur ?? '');
      fieldError(next, fieldMessages.next ?? '');
      err.textContent = general || Object.values(fieldMessages).filter(Boolean).join(' ');
      err.hidden = !err.textContent;
      const first = fieldMessages.cur ? cur : fieldMessages.next ? next : null;
      first?.focus();
    };
    return h('form', {
      class: 'card stack', novalidate: true,
      onSubmit: async (e) => {
        e.preventDefault();
        const bytes = new TextEncoder().encode(next.value).length;
        const local = {
          cur: cur.value ? '' : 'Enter your current password.',
          next: bytes < 8 ? 'The new password needs at least 8 characters.' : bytes > 72 ? 'The new password can be at most 72 bytes long.' : '',
        };
        if (local.cur || local.next) {
          show(local);
          return;
        }
        show({});
        try {
          await api.post('/api/auth/password', { current_password: cur.value, new_password: next.value });
          // Every other session ends; this one stays signed in.
          cur.value = next.value = '';
          if (api.user?.must_change_password) {
            // The server cleared its flag; so does the notice.
            api.setUser({ must_change_password: false });
            generated?.remove();
            store.set({ session: api.user });
          }
          toast('Password changed. Your other devices were signed out.');
        } catch (ex) {
          show(passwordErrors[ex.code] ?? {}, passwordErrors[ex.code] ? '' : ex.message);
        }
      },
      id: 'password', 'aria-labelledby': 'password-heading', testid: 'password-form',
    }, h('h2', { id: 'password-heading', text: 'Password' }), generated, field('Current password', cur), field('New password', next, 'At least 8 characters.'), err,
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-ghost', testid: 'password-save' }, 'Change password')));
  }

  function drawn() {
    if (!focusPassword) return;
    const input = body.querySelector('[data-testid=password-current]');
    input?.scrollIntoView({ block: 'center' });
    input?.focus({ preventScroll: true });
  }
  api.get('/api/users/settings/me').then((s) => {
    ctx.applySettings(s);
    render(s);
    drawn();
  }, (err) => {
    toastError(err);
    render(store.state.settings ?? { theme: 'system', notifications: {} });
    drawn();
  });
  return { el, focus: focusPassword ? 'self' : undefined };
}
