// The line under the composer: the keys, and a "Formatting" button that
// shows the Markdown subset the messages understand (lib/markdown.js).
// The textarea is described by the keys line, and by the formatting line
// while it is shown. Whether it is shown is remembered for the page's life,
// so switching rooms keeps it.

import { h } from './dom.js';

/** The syntax shown by the hint, in the order people reach for it. */
export const FORMAT_TOKENS = ['**bold**', '_italic_', '~~strike~~', '`code`', '```code block```', '> quote', '- list', '1. list', '[text](https://…)'];

let shown = false;

/**
 * Builds the hint for textarea: {el}. id names the keys line; the
 * formatting line is id-format.
 */
export function composerHint(textarea, id, keys) {
  const fmtId = `${id}-format`;
  const describe = () => textarea.setAttribute('aria-describedby', shown ? `${id} ${fmtId}` : id);
  const line = h('div', { class: 'format-hint', id: fmtId, testid: 'format-hint', hidden: !shown },
    h('span', { class: 'visually-hidden', text: 'Formatting: ' }),
    ...FORMAT_TOKENS.map((t) => h('code', { class: 'format-token', text: t })));
  const toggle = h('button', {
    type: 'button', class: 'link-btn format-toggle', testid: 'format-toggle',
    'aria-expanded': String(shown), 'aria-controls': fmtId,
    onClick: () => {
      shown = !shown;
      line.hidden = !shown;
      toggle.setAttribute('aria-expanded', String(shown));
      describe();
    },
  }, 'Formatting');
  describe();
  return { el: h('div', { class: 'composer-hint' }, h('div', { class: 'composer-keys' }, h('span', { id, text: keys }), toggle), line) };
}
