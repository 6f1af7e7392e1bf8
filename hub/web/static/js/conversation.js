// The open conversation: transcript, live updates, reply, take and close.

import { api } from './api.js';
import { applyLiveFrame, loadLive } from './callbar.js';
import { $, clear, h, newClientId } from './dom.js';
import { _, formatDateTime, formatTime, locale } from './i18n.js';
import { authorLabel, channelLabel, channelMark, deliveryLabel, statusLabel } from './labels.js';
import { hasHtmlBody, htmlBody, messageHead, messageNotes } from './message_view.js';
import { hideCustomer, loadCustomer, setDispositions } from './panel.js';
import { state } from './state.js';
import { hideCustomerTickets, loadCustomerTickets } from './ticket_panel.js';
import { showError, showInfo } from './toast.js';

let hooks = { live: null, refreshList: () => {} };
let typingTimer = null;
let typingSentAt = 0;
let typingOffTimer = null;
// Keys pressed while a conversation is still loading act on it once it has loaded.
let opening = Promise.resolve();

export function initConversation(given) {
  hooks = given;
  $('#take-button').addEventListener('click', () => takeOpen());
  $('#close-button').addEventListener('click', () => openCloseDialog());
  $('#reply').addEventListener('submit', (event) => { event.preventDefault(); sendReply(); });
  $('#reply-text').addEventListener('input', () => typingOn());
  $('#attach-button').addEventListener('click', () => chooseFile());
  $('#reply-file').addEventListener('change', (event) => uploadChosen(event.target));
  $('#close-form').addEventListener('submit', (event) => { event.preventDefault(); submitClose(); });
  $('#close-cancel').addEventListener('click', () => $('#close-dialog').close());
  $('#close-dialog').addEventListener('keydown', closeDialogKeys);
}

export function openConversation(id, options = {}) {
  opening = load(id, options);
  return opening;
}

async function load(id, { focusReply = false } = {}) {
  if (state.openId !== id && state.openId !== null) hooks.live.send({ type: 'unwatch', interaction_id: state.openId });
  const changed = state.openId !== id;
  state.openId = id;
  let data;
  try {
    data = await api('GET', `/api/interactions/${id}`);
  } catch (err) {
    showError(err.message);
    if (changed) leaveConversation();
    return;
  }
  if (state.openId !== id) return;
  state.open = data.interaction;
  state.mayWrite = data.may_write;
  state.customerReadSeq = data.interaction.customer_read_seq || 0;
  if (changed) {
    state.messages = new Map();
    state.lastSeq = 0;
    clear($('#transcript'));
    $('#typing').hidden = true;
    resetReply();
  }
  addMessages(data.messages);
  renderHeader();
  $('#conversation-empty').hidden = true;
  $('#conversation').hidden = false;
  hooks.live.send({ type: 'watch', interaction_id: id });
  if (changed) loadLive(id);
  // Once closed, an agent no longer serves this customer: keep the panel as it was.
  if (changed || data.interaction.status !== 'closed') loadCustomer(data.interaction.customer_id, id);
  if (changed) loadCustomerTickets(data.interaction.customer_id);
  markRead();
  if (focusReply && state.mayWrite) $('#reply-text').focus();
}

export function leaveConversation() {
  state.openId = null;
  state.open = null;
  state.mayWrite = false;
  $('#conversation').hidden = true;
  $('#conversation-empty').hidden = false;
  hideCustomer();
  hideCustomerTickets();
}

/** After a reconnect or a send: fetch what arrived since the last message shown. */
export async function catchUp() {
  const id = state.openId;
  if (id === null) return;
  try {
    const data = await api('GET', `/api/interactions/${id}?after_seq=${state.lastSeq}`);
    if (state.openId !== id) return;
    state.open = data.interaction;
    state.mayWrite = data.may_write;
    state.customerReadSeq = Math.max(state.customerReadSeq, data.interaction.customer_read_seq || 0);
    addMessages(data.messages);
    renderHeader();
  } catch (err) {
    showError(err.message);
  }
}

function renderHeader() {
  const open = state.open;
  const channel = $('#conv-channel');
  channel.textContent = channelMark(open.channel);
  channel.className = `chan chan-${open.channel}`;
  channel.title = channelLabel(open.channel);
  const row = state.items.find((item) => item.id === open.id);
  const name = $('#conv-name');
  if (row) name.textContent = row.customer.name;
  else if (!name.textContent || name.dataset.id !== String(open.id)) name.textContent = _('Conversation');
  name.dataset.id = String(open.id);
  const pill = $('#conv-status');
  pill.textContent = statusLabel(open.status);
  pill.className = `status-pill status-${open.status}`;
  const waiting = open.status === 'queued' || open.status === 'followup';
  $('#take-button').hidden = !(waiting && open.agent_id === null);
  $('#close-button').hidden = open.status === 'closed' || !(state.mayWrite || !waiting);
  $('#reply').hidden = !state.mayWrite;
  const move = $('#move-button');
  if (move) move.hidden = open.status === 'closed';
}

export function setOpenName(name) {
  if (state.open) $('#conv-name').textContent = name;
}

function addMessages(list) {
  let reorder = false;
  for (const message of list) {
    if (!message || message.interaction_id !== state.openId) continue;
    const known = state.messages.get(message.seq);
    state.messages.set(message.seq, { ...known, ...message });
    if (known) replaceMessage(message.seq);
    else if (message.seq < state.lastSeq) reorder = true;
    else $('#transcript').append(renderMessage(state.messages.get(message.seq)));
    state.lastSeq = Math.max(state.lastSeq, message.seq);
  }
  if (reorder) {
    const sorted = [...state.messages.values()].sort((a, b) => a.seq - b.seq);
    clear($('#transcript')).append(...sorted.map(renderMessage));
  }
  scrollDown();
}

function replaceMessage(seq) {
  const node = document.getElementById(`msg-${seq}`);
  if (node) node.replaceWith(renderMessage(state.messages.get(seq)));
}

function scrollDown() {
  const transcript = $('#transcript');
  transcript.scrollTop = transcript.scrollHeight;
}

function renderMessage(m) {
  const outbound = m.direction === 'out';
  const head = messageHead(m);
  const html = hasHtmlBody(m);
  const classes = ['msg', outbound ? 'msg-out' : 'msg-in', head ? 'msg-mail' : ''];
  return h('li', { id: `msg-${m.seq}`, class: classes.join(' ').trim(), 'data-seq': m.seq },
    h('div', { class: 'msg-meta' },
      h('span', { class: 'msg-author', text: authorLabel(m) }),
      h('time', { datetime: m.created_at, title: formatDateTime(m.created_at), text: formatTime(m.created_at) })),
    head,
    messageNotes(m),
    html ? htmlBody(m) : null,
    m.text && !html ? h('div', { class: 'msg-text', text: m.text }) : null,
    m.attachments && m.attachments.length ? h('ul', { class: 'msg-files' }, m.attachments.map((a) =>
      h('li', {}, h('a', { href: `/api/files/${a.id}`, download: a.filename, text: a.filename }),
        h('span', { class: 'muted', text: ` ${formatSize(a.size)}` })))) : null,
    outbound ? renderDelivery(m) : null);
}

function renderDelivery(m) {
  const seen = m.seq <= state.customerReadSeq && m.delivery_status !== 'failed';
  const status = seen ? 'seen' : m.delivery_status || 'pending';
  const box = h('div', { class: `delivery delivery-${status}` },
    h('span', { class: 'delivery-status', text: seen ? _('Seen') : deliveryLabel(status) }));
  if (status === 'failed') {
    box.append(
      h('span', { class: 'delivery-error', role: 'alert', text: m.delivery_error || _('No reason was given.') }),
      h('span', { class: 'delivery-hint', text: _('Not delivered. Fix the cause, then send it again.') }),
      h('button', { type: 'button', class: 'btn btn-small', text: _('Copy to reply'),
        onclick: () => reuseText(m.text) }));
  }
  return box;
}

function reuseText(text) {
  const box = $('#reply-text');
  box.value = text;
  state.clientId = newClientId();
  box.focus();
}

function formatSize(bytes) {
  const units = ['byte', 'kilobyte', 'megabyte'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return new Intl.NumberFormat(locale.replace('_', '-'), {
    // "727 bytes" reads better than the short "727 byte"; "1.2 kB" is fine short.
    style: 'unit', unit: units[unit], unitDisplay: unit === 0 ? 'long' : 'short', maximumFractionDigits: 1,
  }).format(value);
}

/** A frame about the conversation being watched. */
export function applyInteractionFrame(frame) {
  if (frame.interaction_id !== state.openId) return;
  if (frame.event === 'MessageEvent' && frame.message) {
    if (frame.message.seq > state.lastSeq + 1) catchUp();
    addMessages([frame.message]);
    if (frame.kind === 'inbound') { $('#typing').hidden = true; markRead(); }
  } else if (frame.event === 'MessageEvent' && frame.kind === 'delivery') {
    const known = state.messages.get(frame.seq);
    if (known) {
      known.delivery_status = frame.status;
      known.delivery_error = frame.error || '';
      replaceMessage(frame.seq);
    } else {
      catchUp();
    }
  } else if (frame.event === 'typing' && frame.by === 'customer') {
    showTyping(frame.state !== 'off');
  } else if (frame.event === 'read' && frame.by === 'customer') {
    state.customerReadSeq = Math.max(state.customerReadSeq, frame.up_to_seq);
    for (const m of state.messages.values()) if (m.direction === 'out') replaceMessage(m.seq);
  } else if (frame.event === 'live') {
    applyLiveFrame(frame);
  } else if (frame.event === 'InteractionEvent') {
    catchUp();
  }
}

function showTyping(on) {
  $('#typing').hidden = !on;
  clearTimeout(typingTimer);
  if (on) typingTimer = setTimeout(() => { $('#typing').hidden = true; }, 8000);
}

async function markRead() {
  if (!state.mayWrite || !state.lastSeq || state.open.agent_read_seq >= state.lastSeq) return;
  const upTo = state.lastSeq;
  try {
    await api('POST', `/api/interactions/${state.openId}/read`, { up_to_seq: upTo });
    state.open.agent_read_seq = upTo;
  } catch {
    // A missed read mark is harmless; the next message marks again.
  }
}

function typingOn() {
  if (!state.mayWrite) return;
  const now = Date.now();
  if (now - typingSentAt > 3000) {
    typingSentAt = now;
    hooks.live.send({ type: 'typing', interaction_id: state.openId, state: 'on' });
  }
  clearTimeout(typingOffTimer);
  typingOffTimer = setTimeout(typingOff, 4000);
}

function typingOff() {
  clearTimeout(typingOffTimer);
  if (!typingSentAt || state.openId === null) return;
  typingSentAt = 0;
  hooks.live.send({ type: 'typing', interaction_id: state.openId, state: 'off' });
}

function resetReply() {
  $('#reply-text').value = '';
  state.files = [];
  state.clientId = newClientId();
  renderFiles();
  $('#reply-state').textContent = '';
}

export async function focusReply() {
  await opening;
  if (state.openId === null) return;
  if (!state.mayWrite) {
    showInfo(state.open && state.open.status !== 'closed' ? _('Take the conversation first (t).')
      : _('This conversation is closed.'));
    return;
  }
  $('#reply-text').focus();
}

export async function sendReply() {
  if (state.sending || !state.mayWrite) return;
  const text = $('#reply-text').value;
  if (!text.trim() && !state.files.length) {
    showInfo(_('Write a message or attach a file.'));
    return;
  }
  const id = state.openId;
  state.sending = true;
  $('#reply-state').textContent = _('Sending…');
  try {
    await api('POST', `/api/interactions/${id}/messages`, {
      text, client_id: state.clientId, attachment_ids: state.files.map((f) => f.id),
    });
    typingOff();
    resetReply();
    await catchUp();
  } catch (err) {
    // The same client_id goes with the next attempt, so a reply that did arrive is not doubled.
    $('#reply-state').textContent = _('Not sent.');
    showError(err.code === 'network' ? _('Not sent: the hub cannot be reached. Press Ctrl+Enter to try again.')
      : err.message);
  } finally {
    state.sending = false;
  }
}

export function chooseFile() {
  // No await here: the file picker needs the key press's user activation.
  if (!state.mayWrite) { focusReply(); return; }
  $('#reply-file').click();
}

async function uploadChosen(input) {
  const file = input.files && input.files[0];
  input.value = '';
  if (!file) return;
  const form = new FormData();
  form.append('file', file, file.name);
  $('#reply-state').textContent = _('Uploading {name}…', { name: file.name });
  try {
    const stored = await api('POST', '/api/files', form);
    state.files.push({ id: stored.id, name: file.name });
    renderFiles();
    $('#reply-state').textContent = '';
  } catch (err) {
    $('#reply-state').textContent = '';
    showError(err.message);
  }
  $('#reply-text').focus();
}

function renderFiles() {
  clear($('#reply-files')).append(...state.files.map((f) => h('li', { class: 'chip' },
    h('span', { text: f.name }),
    h('button', { type: 'button', class: 'chip-remove', 'aria-label': _('Remove {name}', { name: f.name }),
      text: '×', onclick: () => { state.files = state.files.filter((x) => x !== f); renderFiles(); } }))));
}

export async function takeOpen() {
  await opening;
  if (state.openId === null || !state.open) return;
  if (state.mayWrite) { focusReply(); return; }
  try {
    await api('POST', `/api/interactions/${state.openId}/take`);
  } catch (err) {
    showError(err.message);
    hooks.refreshList();
    return;
  }
  await openConversation(state.openId, { focusReply: true });
  hooks.switchView('mine');
}

export async function loadDispositions() {
  if (state.dispositions) return state.dispositions;
  const data = await api('GET', '/api/dispositions');
  state.dispositions = data.items.map((d) => ({ code: d.code, label: d[locale] || d.en || d.code }));
  setDispositions(state.dispositions);
  return state.dispositions;
}

export async function openCloseDialog() {
  await opening;
  if (!state.open || state.open.status === 'closed') return;
  let items;
  try {
    items = await loadDispositions();
  } catch (err) {
    showError(err.message);
    return;
  }
  const list = clear($('#dispositions'));
  items.forEach((d, index) => {
    const key = index < 9 ? String(index + 1) : '';
    list.append(h('label', { class: 'disposition' },
      h('input', { type: 'radio', name: 'disposition', value: d.code, 'aria-keyshortcuts': key || undefined }),
      key ? h('kbd', { text: key }) : null,
      h('span', { text: d.label })));
  });
  $('#close-note').value = '';
  $('#close-error').hidden = true;
  $('#close-dialog').showModal();
  $('#close-form').focus();
  const first = list.querySelector('input');
  if (first) first.focus();
}

function closeDialogKeys(event) {
  if (event.target.id === 'close-note') {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) { event.preventDefault(); submitClose(); }
    return;
  }
  if (/^[1-9]$/.test(event.key) && !event.ctrlKey && !event.altKey && !event.metaKey) {
    const radios = $('#dispositions').querySelectorAll('input');
    const radio = radios[Number(event.key) - 1];
    if (radio) { radio.checked = true; radio.focus(); }
    event.preventDefault();
  } else if (event.key === 'Enter' && event.target.tagName !== 'BUTTON') {
    event.preventDefault();
    submitClose();
  }
}

async function submitClose() {
  const chosen = $('#dispositions').querySelector('input:checked');
  const error = $('#close-error');
  if (!chosen) {
    error.textContent = _('Pick a disposition category first.');
    error.hidden = false;
    return;
  }
  try {
    await api('POST', `/api/interactions/${state.openId}/close`,
      { disposition: chosen.value, note: $('#close-note').value });
  } catch (err) {
    error.textContent = err.message;
    error.hidden = false;
    return;
  }
  $('#close-dialog').close();
  showInfo(_('Conversation closed.'));
  await openConversation(state.openId);
  hooks.refreshList();
}
