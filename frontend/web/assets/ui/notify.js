// New-message alerts per the user's settings: a short tone and a desktop
// notification (text only) while Parley is not in front.

import { preview } from '../lib/format.js';
import { plainText } from '../lib/markdown.js';
import { mentionsMe } from '../lib/mentions.js';
import { previewText } from '../lib/uploads.js';

let audio = null;

/** Plays a short soft tone (Web Audio; no sound file to fetch). */
export function chime() {
  try {
    audio ??= new AudioContext();
    const t = audio.currentTime;
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = 'sine';
    osc.frequency.setValueAtTime(880, t);
    osc.frequency.exponentialRampToValueAtTime(660, t + 0.16);
    gain.gain.setValueAtTime(0.0001, t);
    gain.gain.exponentialRampToValueAtTime(0.08, t + 0.01);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.2);
    osc.connect(gain).connect(audio.destination);
    osc.start(t);
    osc.stop(t + 0.22);
  } catch {
    // no audio available
  }
}

/**
 * Whether a message should alert: not one's own, recent (not a replay after
 * a reconnect), not in the room being looked at, and a mention (or a
 * direct message: direct is true for DMs and groups) when the user asked
 * for mentions only.
 */
export function shouldAlert(msg, { me, settings, viewingRoomId, visible, direct = false, now = Date.now() }) {
  const n = settings?.notifications;
  if (!n || (!n.desktop && !n.sound)) return false;
  if (Number(msg.user_id) === me?.id || msg.deleted) return false;
  if (now - new Date(msg.created_at).getTime() > 120_000) return false;
  if (visible && viewingRoomId === Number(msg.room_id)) return false;
  if (n.mentions_only && !direct && !mentionsMe(msg, me)) return false;
  return true;
}

/** Alerts for msg in room roomName; onOpen runs when the notification is clicked. */
export function alertMessage(msg, roomName, settings, onOpen) {
  const n = settings.notifications;
  if (n.sound) chime();
  if (n.desktop && 'Notification' in window && Notification.permission === 'granted' && document.visibilityState !== 'visible') {
    const note = new Notification(`${msg.username} in ${roomName}`, { body: preview(previewText({ ...msg, body: plainText(msg.body) }), 140), tag: `room-${msg.room_id}` });
    note.onclick = () => {
      window.focus();
      onOpen();
      note.close();
    };
  }
}
