// The browser's permission for desktop notifications, shown in Settings
// beside the switch: granted, blocked (the browser's site settings change
// it), or not asked yet (a button asks).

import { h } from './dom.js';

/** A status line for the notification permission, kept current. */
export function notificationPermission() {
  const text = h('span', { testid: 'notify-permission' });
  const ask = h('button', { type: 'button', class: 'btn btn-small btn-ghost', testid: 'notify-ask', hidden: true, onClick: () => request() }, 'Allow notifications');
  const row = h('p', { class: 'muted notify-permission', role: 'status' }, text, ' ', ask);
  function draw() {
    if (!('Notification' in window)) {
      text.textContent = 'This browser cannot show desktop notifications.';
      ask.hidden = true;
      return;
    }
    const p = Notification.permission;
    text.textContent = p === 'granted' ? 'This browser may show Parley notifications.'
      : p === 'denied' ? 'This browser blocks Parley notifications; allow them in its site settings.'
        : 'This browser has not been asked to show notifications yet.';
    row.dataset.permission = p;
    ask.hidden = p !== 'default';
  }
  async function request() {
    try {
      await Notification.requestPermission();
    } finally {
      draw();
    }
  }
  draw();
  navigator.permissions?.query({ name: 'notifications' }).then((st) => {
    st.onchange = draw;
  }, () => {});
  return row;
}
