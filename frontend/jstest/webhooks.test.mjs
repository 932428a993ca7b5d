import { test } from 'node:test';
import assert from 'node:assert/strict';
import { curlExample, isAppMessage, shellQuote, webhookUrl } from '../web/assets/lib/webhooks.js';

test('webhookUrl keeps absolute URLs and puts paths under the API base', () => {
  assert.equal(webhookUrl('https://chat.example.com/api/chat/hooks/t', 'http://x', 'http://y'), 'https://chat.example.com/api/chat/hooks/t');
  assert.equal(webhookUrl('/api/chat/hooks/t', 'http://localhost:5000/', 'http://localhost:8080'), 'http://localhost:5000/api/chat/hooks/t');
  assert.equal(webhookUrl('/api/chat/hooks/t', '', 'https://app.example'), 'https://app.example/api/chat/hooks/t');
});

test('shellQuote survives single quotes', () => {
  assert.equal(shellQuote("it's"), `'it'\\''s'`);
});

test('curlExample posts JSON text to the URL', () => {
  const cmd = curlExample('https://h/api/chat/hooks/abc', "Deploy's done");
  assert.match(cmd, /^curl -X POST -H 'Content-Type: application\/json'/);
  assert.ok(cmd.includes(`'{"text":"Deploy'\\''s done"}'`));
  assert.ok(cmd.endsWith(`'https://h/api/chat/hooks/abc'`));
});

test('isAppMessage', () => {
  assert.equal(isAppMessage({ webhook: { id: 1, name: 'CI' } }), true);
  assert.equal(isAppMessage({ user_id: 3 }), false);
  assert.equal(isAppMessage(null), false);
});
