// Sign-in and registration screens.

import { h, logo } from '../ui/dom.js';
import { field, fieldError } from '../ui/widgets.js';

function authCard(title, subtitle, form, footer) {
  return h('main', { class: 'auth-page' },
    h('div', { class: 'auth-card' },
      h('div', { class: 'auth-brand' }, logo('logo-lg'), h('span', { class: 'brand-name', text: 'Parley' })),
      h('h1', { class: 'auth-title', text: title }),
      h('p', { class: 'auth-subtitle', text: subtitle }),
      form,
      h('p', { class: 'auth-footer' }, footer)));
}

function errorBox() {
  return h('div', { class: 'form-error', role: 'alert', testid: 'auth-error', hidden: true });
}

function showError(box, msg) {
  box.textContent = msg;
  box.hidden = !msg;
}

function busy(button, on, label) {
  button.disabled = on;
  button.classList.toggle('loading', on);
  if (label) button.textContent = on ? label[1] : label[0];
}

/** The sign-in screen; onDone() runs after a successful login. */
export function loginView(ctx, { onDone, notice }) {
  const username = h('input', { name: 'username', autocomplete: 'username', required: true, testid: 'login-username', maxlength: 32, autocapitalize: 'none', spellcheck: 'false' });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true, testid: 'login-password' });
  const err = errorBox();
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block', testid: 'login-submit' }, 'Sign in');
  if (notice) showError(err, notice);
  const form = h('form', {
    class: 'auth-form', novalidate: true,
    onSubmit: async (e) => {
      e.preventDefault();
      showError(err, '');
      fieldError(username, username.value.trim() ? '' : 'Enter your username.');
      fieldError(password, password.value ? '' : 'Enter your password.');
      if (!username.value.trim() || !password.value) {
        (username.value.trim() ? password : username).focus();
        return;
      }
      busy(submit, true, ['Sign in', 'Signing in…']);
      try {
        await ctx.api.login(username.value.trim(), password.value);
        onDone();
      } catch (ex) {
        showError(err, ex.status === 429 ? `${ex.message} Try again in ${ex.retryAfter || 'a few'} seconds.` : ex.message);
        busy(submit, false, ['Sign in', 'Signing in…']);
        password.select();
      }
    },
  }, field('Username', username), field('Password', password), err, submit);
  const el = authCard('Welcome back', 'Sign in to continue to your team chat.', form,
    ['New to Parley? ', h('a', { href: '/register', testid: 'to-register' }, 'Create an account')]);
  queueMicrotask(() => username.focus());
  return { el };
}

/** The registration screen. */
export function registerView(ctx, { onDone }) {
  const username = h('input', { name: 'username', autocomplete: 'username', required: true, testid: 'register-username', maxlength: 32, pattern: '[A-Za-z0-9_.\\-]{3,32}', autocapitalize: 'none', spellcheck: 'false' });
  const email = h('input', { name: 'email', type: 'email', autocomplete: 'email', testid: 'register-email' });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'new-password', required: true, minlength: 8, maxlength: 72, testid: 'register-password' });
  const err = errorBox();
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block', testid: 'register-submit' }, 'Create account');
  const form = h('form', {
    class: 'auth-form', novalidate: true,
    onSubmit: async (e) => {
      e.preventDefault();
      showError(err, '');
      const u = username.value.trim();
      const badName = !/^[A-Za-z0-9_.-]{3,32}$/.test(u);
      const badPassword = new TextEncoder().encode(password.value).length < 8;
      fieldError(username, badName ? 'Usernames are 3–32 letters, digits, dots, dashes or underscores.' : '');
      fieldError(password, badPassword ? 'Passwords need at least 8 characters.' : '');
      if (badName || badPassword) {
        (badName ? username : password).focus();
        return;
      }
      busy(submit, true, ['Create account', 'Creating…']);
      try {
        await ctx.api.register({ username: u, password: password.value, email: email.value.trim() });
        onDone();
      } catch (ex) {
        showError(err, ex.message);
        busy(submit, false, ['Create account', 'Creating…']);
      }
    },
  },
  field('Username', username, '3–32 characters: letters, digits, . _ -'),
  field('Email (optional)', email),
  field('Password', password, 'At least 8 characters.'),
  err, submit);
  const el = authCard('Create your account', 'Join the conversation in a minute.', form,
    ['Already have an account? ', h('a', { href: '/login', testid: 'to-login' }, 'Sign in')]);
  queueMicrotask(() => username.focus());
  return { el };
}
