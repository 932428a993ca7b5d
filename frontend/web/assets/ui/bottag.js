// The "BOT" tag shown beside a bot account's name (messages, member
// lists, profiles). Screen readers hear "(bot)" rather than the letters.

import { h } from './dom.js';

/** The tag, or null for a person's profile (or one not loaded yet). */
export function botTag(profile) {
  if (!profile?.is_bot) return null;
  return h('span', { class: 'bot-tag', testid: 'bot-tag', title: 'This account is a bot' },
    h('span', { 'aria-hidden': 'true', text: 'BOT' }),
    h('span', { class: 'visually-hidden', text: ' (bot)' }));
}
