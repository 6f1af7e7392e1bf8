// What a message carries beside its text (meta): a mail's header block and notes, and an HTML
// body shown in a sandboxed frame that runs nothing and loads remote images only when asked.

import { h } from './dom.js';
import { _, formatDateTime } from './i18n.js';

// Per message id: remote images the agent chose to load, and how many the hub held back.
const imagesLoaded = new Set();
const blockedCounts = new Map();

export function hasHtmlBody(m) {
  return Boolean(m.meta && typeof m.meta.html === 'string' && m.meta.html);
}

/** Subject, sender, recipients and date, when the channel gave them; null otherwise. */
export function messageHead(m) {
  const meta = m.meta || {};
  if (!meta.subject && !meta.from) return null;
  const rows = [
    [_('Subject'), meta.subject || _('(no subject)'), 'mail-subject'],
    [_('From'), meta.from ? address(meta.from_name, meta.from) : '', 'mail-from'],
    [_('To'), list(meta.to), 'mail-to'],
    [_('Cc'), list(meta.cc), 'mail-cc'],
    [_('Date'), meta.date ? formatDateTime(meta.date) : '', 'mail-date'],
  ].filter(([, value]) => value);
  return h('div', { class: 'mail-head' },
    meta.automatic ? h('span', { class: 'badge badge-auto', title: String(meta.automatic),
      text: _('Automatic mail') }) : null,
    h('dl', {}, rows.map(([label, value, name]) => h('div', { class: name },
      h('dt', { text: label }), h('dd', { text: value })))));
}

function address(name, email) {
  return name && name !== email ? `${name} <${email}>` : email;
}

function list(values) {
  return Array.isArray(values) ? values.filter(Boolean).join(', ') : String(values || '');
}

/** Notes about the message: why it is automatic, files not kept, mail forwarded inside it. */
export function messageNotes(m) {
  const meta = m.meta || {};
  const notes = [];
  if (meta.automatic) {
    notes.push(h('p', { class: 'msg-note', text: _('Sent automatically: {reason}',
      { reason: meta.automatic }) }));
  }
  if (Array.isArray(meta.refused_files) && meta.refused_files.length) {
    notes.push(h('div', { class: 'msg-note msg-note-warn' },
      h('span', { text: _('Files not kept:') }),
      h('ul', {}, meta.refused_files.map((f) => h('li', { text: `${f.filename}: ${f.reason}` })))));
  }
  if (Array.isArray(meta.forwarded) && meta.forwarded.length) {
    notes.push(h('div', { class: 'msg-note' },
      h('span', { text: _('Forwarded mail inside:') }),
      h('ul', {}, meta.forwarded.map((f) => h('li', { text: forwardedLine(f) })))));
  }
  if (meta.html_truncated) {
    notes.push(h('p', { class: 'msg-note', text: _('Only the beginning of this long message is shown.') }));
  }
  return notes;
}

function forwardedLine(f) {
  const parts = [f.from, f.subject || _('(no subject)')];
  if (f.date) parts.push(formatDateTime(f.date));
  return parts.filter(Boolean).join(' · ');
}

/** The HTML body in a sandboxed frame (no scripts, no same origin), with the images button. */
export function htmlBody(m) {
  const url = `/api/messages/${m.id}/html`;
  const loaded = imagesLoaded.has(m.id);
  const frame = h('iframe', {
    class: 'msg-frame', src: loaded ? `${url}?images=1` : url, title: _('Formatted message'),
    sandbox: 'allow-popups allow-popups-to-escape-sandbox', referrerpolicy: 'no-referrer',
  });
  const button = h('button', { type: 'button', class: 'btn btn-small msg-images', hidden: true,
    'aria-keyshortcuts': 'l' });
  button.addEventListener('click', () => {
    imagesLoaded.add(m.id);
    frame.src = `${url}?images=1`;
    button.hidden = true;
  });
  if (!loaded) showBlocked(m.id, url, button);
  const box = h('div', { class: 'msg-frame-box' }, frame);
  box.style.height = `${frameHeight(m)}px`; // through the CSSOM: the page's CSP refuses style attributes
  return h('div', { class: 'msg-html' }, box, button);
}

// The frame runs no script, so it cannot report its height: guess from the text, leave room
// for images and tables, and let the agent drag the box taller.
function frameHeight(m) {
  if (/<(?:img|table)\b/i.test(m.meta.html)) return 360;
  const text = m.text || '';
  const lines = text.split('\n').reduce((sum, line) => sum + Math.max(1, Math.ceil(line.length / 80)), 0);
  return Math.min(360, Math.max(96, lines * 21 + 24));
}

async function showBlocked(id, url, button) {
  if (!blockedCounts.has(id)) {
    try {
      const response = await fetch(url, { credentials: 'same-origin' });
      blockedCounts.set(id, response.ok ? Number(response.headers.get('X-Blocked-Images') || 0) : 0);
    } catch {
      return; // Without the count the agent reads the mail without its remote images.
    }
  }
  const blocked = blockedCounts.get(id);
  if (!blocked || imagesLoaded.has(id)) return;
  button.textContent = _('Load remote images ({count} blocked)', { count: blocked });
  button.append(' ', h('kbd', { text: 'l' }));
  button.hidden = false;
}

/** `l`: load the remote images of the newest message in the open conversation that holds some back. */
export function loadRemoteImages() {
  const buttons = document.querySelectorAll('#transcript .msg-images:not([hidden])');
  const newest = buttons[buttons.length - 1];
  if (newest) newest.click();
}
