// Administration: list accounts, change roles, disable or enable them, sign
// them out everywhere.
// Only admins see the link; auth-service enforces it either way.

import { h, icon } from '../ui/dom.js';
import { avatar, confirmDialog, emptyState, spinner, toast, toastError } from '../ui/widgets.js';
import { keepFocus } from '../ui/focus.js';
import { dateOnly, fullTime } from '../lib/timefmt.js';
import { viewHeader } from './shell.js';

export function adminView(ctx) {
  const { api } = ctx;
  if (api.user?.role !== 'admin') {
    return { el: h('section', { class: 'page', testid: 'admin-forbidden' }, viewHeader(ctx, [h('h1', { text: 'Admin' })]), h('div', { class: 'page-body' }, emptyState('shield', 'Administrators only.', 'You do not have access to this page.'))) };
  }
  const filter = h('input', { type: 'search', placeholder: 'Filter by username prefix', 'aria-label': 'Filter users', testid: 'admin-filter' });
  const tbody = h('tbody', {});
  const more = h('button', { type: 'button', class: 'btn btn-ghost', hidden: true, testid: 'admin-more', onClick: () => load(false) }, 'Load more');
  const status = h('div', { class: 'muted small', 'aria-live': 'polite' });
  const table = h('table', { class: 'table', testid: 'admin-users', 'aria-label': 'Users' },
    h('thead', {}, h('tr', {}, h('th', { text: 'User' }), h('th', { text: 'Email' }), h('th', { text: 'Role' }), h('th', { text: 'Status' }), h('th', { text: 'Joined' }))),
    tbody);
  const el = h('section', { class: 'page', testid: 'admin-view' },
    viewHeader(ctx, [h('h1', {}, icon('shield'), ' Admin')]),
    h('div', { class: 'page-body' },
      h('div', { class: 'toolbar' }, filter, status),
      h('div', { class: 'table-wrap' }, table), more));

  let cursor = null;
  let seq = 0;

  function row(u) {
    const self = u.id === api.user?.id;
    const role = h('select', { 'aria-label': `Role of ${u.username}`, testid: 'admin-role', disabled: self, dataset: { userId: u.id, focusKey: `role-${u.id}` } },
      h('option', { value: 'user', selected: u.role === 'user', text: 'User' }), h('option', { value: 'admin', selected: u.role === 'admin', text: 'Admin' }));
    role.addEventListener('change', async () => {
      try {
        const nu = await api.patch(`/api/auth/users/${u.id}`, { role: role.value });
        toast(`${u.username} is now ${nu.role === 'admin' ? 'an admin' : 'a user'}.`);
        keepFocus(tbody, () => tr.replaceWith(row(nu)));
      } catch (err) {
        toastError(err);
        role.value = u.role;
      }
    });
    const toggle = h('button', {
      type: 'button', class: ['btn', 'btn-small', u.disabled ? 'btn-ghost' : 'btn-danger-ghost'], testid: 'admin-disable', disabled: self, dataset: { userId: u.id, focusKey: `toggle-${u.id}` },
      // Three rows, three "Disable" buttons: the name says whose.
      'aria-label': `${u.disabled ? 'Enable' : 'Disable'} ${u.username}`,
      onClick: async () => {
        if (!u.disabled && !(await confirmDialog(`Disable ${u.username}?`, 'They are signed out everywhere and cannot sign in until enabled again.', 'Disable', true))) return;
        try {
          const nu = await api.patch(`/api/auth/users/${u.id}`, { disabled: !u.disabled });
          toast(`${u.username} is ${nu.disabled ? 'disabled' : 'enabled'}.`);
          keepFocus(tbody, () => tr.replaceWith(row(nu)));
        } catch (err) {
          toastError(err);
        }
      },
    }, u.disabled ? 'Enable' : 'Disable');
    // Ends every session of the account (a lost laptop, a shared
    // computer): its tokens stop working everywhere within seconds.
    const signOut = h('button', {
      type: 'button', class: 'btn btn-small btn-ghost', testid: 'admin-signout', disabled: u.disabled, dataset: { userId: u.id, focusKey: `signout-${u.id}` },
      'aria-label': `Sign ${u.username} out everywhere`,
      onClick: async () => {
        if (!(await confirmDialog(`Sign ${u.username} out everywhere?`, self ? 'This ends every session, this one too.' : 'Every device they are signed in on is signed out. They can sign in again.', 'Sign out everywhere', true))) return;
        try {
          const r = await api.post(`/api/auth/users/${u.id}/sessions/revoke-all`);
          toast(`${u.username} was signed out of ${r.sessions_revoked} ${r.sessions_revoked === 1 ? 'session' : 'sessions'}.`);
          if (self) ctx.logout();
        } catch (err) {
          toastError(err);
        }
      },
    }, 'Sign out everywhere');
    const tr = h('tr', { testid: 'admin-user', dataset: { userId: u.id, username: u.username }, class: u.disabled ? 'row-disabled' : null },
      h('td', {}, h('a', { href: `/users/${u.id}`, class: 'user-cell' }, avatar(ctx, u.id, u.username, 'sm'), h('span', {}, h('strong', { text: u.username }), self ? h('span', { class: 'muted', text: ' (you)' }) : null))),
      h('td', { class: 'muted', text: u.email || '—' }),
      h('td', {}, role),
      h('td', {}, h('span', { class: ['pill', u.disabled ? 'pill-off' : 'pill-on'], text: u.disabled ? 'Disabled' : 'Active' }), ' ', toggle, ' ', signOut),
      h('td', { class: 'muted', title: fullTime(u.created_at), text: dateOnly(u.created_at) }));
    return tr;
  }

  async function load(reset) {
    const mine = ++seq;
    if (reset) {
      cursor = null;
      tbody.replaceChildren(h('tr', {}, h('td', { colspan: 5 }, spinner())));
    }
    try {
      const page = await api.get('/api/auth/users', { limit: 50, cursor, q: filter.value.trim().toLowerCase() || undefined });
      if (mine !== seq) return;
      if (reset) tbody.replaceChildren();
      for (const u of page.users ?? []) tbody.append(row(u));
      cursor = page.next_cursor ?? null;
      more.hidden = cursor == null;
      status.textContent = `${tbody.children.length} user${tbody.children.length === 1 ? '' : 's'} shown`;
      if (tbody.children.length === 0) tbody.append(h('tr', {}, h('td', { colspan: 5, class: 'muted', text: 'No users match.' })));
    } catch (err) {
      if (mine === seq) tbody.replaceChildren(h('tr', {}, h('td', { colspan: 5, class: 'muted', text: err.message })));
    }
  }
  let t = 0;
  filter.addEventListener('input', () => {
    clearTimeout(t);
    t = setTimeout(() => load(true), 200);
  });
  load(true);
  return { el };
}
