// The agent inbox: the Waiting and Mine lists, live over /ws/agent, beside the open conversation.

import { api } from './api.js';
import { applyLiveFrame, initCallbar } from './callbar.js';
import {
  applyInteractionFrame, catchUp, initConversation, leaveConversation, loadDispositions,
  openConversation, setOpenName,
} from './conversation.js';
import { $, clear, debounce, h } from './dom.js';
import { _, formatAgo, formatWait, loadCatalog } from './i18n.js';
import { initKeys } from './keys.js';
import { channelLabel, channelMark, tierLabel } from './labels.js';
import { Live } from './live.js';
import { initMove } from './move.js';
import { initPanel } from './panel.js';
import { applyOfferFrame, initOffers, loadOffers, tickOffers } from './offers.js';
import { applyOutageFrame, initOutages } from './outages.js';
import { state } from './state.js';
import { applyStatusFrame, initStatusBar, refreshStatus, tickStatus } from './statusbar.js';
import { initTicketPanel } from './ticket_panel.js';
import { showError, showInfo } from './toast.js';

const live = new Live({ onFrame, onState });
const refreshSoon = debounce(() => refreshList(), 250);

async function boot() {
  await loadCatalog();
  initConversation({ live, refreshList, switchView });
  initKeys({ moveSelection, openSelected, switchView });
  initOffers({ opened: openAccepted });
  initCallbar({ open: openAccepted });
  initPanel({ opened: openAccepted });
  initMove({ moved: () => { refreshList(); catchUp(); } });
  initStatusBar();
  initTicketPanel();
  initOutages();
  for (const tab of document.querySelectorAll('[role="tab"]')) {
    tab.addEventListener('click', () => switchView(tab.dataset.view));
  }
  $('#lang').addEventListener('change', (event) => changeLocale(event.target.value));
  setInterval(tick, 1000);
  loadDispositions().catch(() => {});
  await refreshList();
  live.connect();
  window.contacthub = { live, state };
}

export async function refreshList() {
  let data;
  try {
    data = await api('GET', `/api/interactions?view=${state.view}`);
  } catch (err) {
    showError(err.message);
    return;
  }
  const selectedId = state.items[state.selected]?.id ?? state.openId;
  state.items = data.items;
  const index = state.items.findIndex((item) => item.id === selectedId);
  state.selected = index >= 0 ? index : Math.min(Math.max(state.selected, 0), state.items.length - 1);
  $('#count-waiting').textContent = data.counts.waiting;
  $('#count-mine').textContent = data.counts.mine;
  renderList();
  const open = state.items.find((item) => item.id === state.openId);
  if (open) setOpenName(open.customer.name);
}

function renderList() {
  const list = clear($('#list'));
  state.items.forEach((item, index) => list.append(listRow(item, index)));
  $('#list-empty').hidden = state.items.length > 0;
  const current = state.items[state.selected];
  if (current) list.setAttribute('aria-activedescendant', `row-${current.id}`);
  else list.removeAttribute('aria-activedescendant');
}

function listRow(item, index) {
  const waiting = state.view === 'waiting';
  const classes = ['row'];
  if (index === state.selected) classes.push('selected');
  if (item.id === state.openId) classes.push('open');
  if (item.last_seq > item.agent_read_seq && !waiting) classes.push('unread');
  return h('li', {
    id: `row-${item.id}`, role: 'option', class: classes.join(' '), 'data-id': item.id,
    'aria-selected': index === state.selected ? 'true' : 'false',
    onclick: () => { state.selected = index; renderList(); openSelected(); },
  },
  h('span', { class: `chan chan-${item.channel}`, title: channelLabel(item.channel),
    'aria-label': channelLabel(item.channel), text: channelMark(item.channel) }),
  h('div', { class: 'row-main' },
    h('div', { class: 'row-top' },
      h('span', { class: 'row-name', text: item.customer.name }),
      h('span', { class: `tier tier-${item.customer.tier}`, text: tierLabel(item.customer.tier) }),
      waiting
        ? h('span', { class: 'wait', 'data-since': item.created_at, title: _('Waiting time'),
          text: formatWait(item.created_at) })
        : h('span', { class: 'ago', 'data-ago': item.updated_at, text: formatAgo(item.updated_at) })),
    h('div', { class: 'row-preview', text: item.subject || item.preview || '—' })));
}

function tick() {
  tickStatus();
  tickOffers();
  for (const node of document.querySelectorAll('.wait[data-since]')) {
    node.textContent = formatWait(node.dataset.since);
  }
  for (const node of document.querySelectorAll('.ago[data-ago]')) {
    node.textContent = formatAgo(node.dataset.ago);
  }
}

function moveSelection(delta) {
  if (!state.items.length) return;
  state.selected = Math.min(state.items.length - 1, Math.max(0, state.selected + delta));
  renderList();
  const row = document.getElementById(`row-${state.items[state.selected].id}`);
  if (row) row.scrollIntoView({ block: 'nearest' });
}

function openSelected() {
  const item = state.items[state.selected];
  if (!item) return;
  openConversation(item.id).then(renderList);
}

function switchView(view) {
  if (view === state.view) { refreshList(); return; }
  state.view = view;
  state.selected = 0;
  for (const tab of document.querySelectorAll('[role="tab"]')) {
    tab.setAttribute('aria-selected', tab.dataset.view === view ? 'true' : 'false');
  }
  refreshList();
}

function onFrame(frame) {
  if (frame.type === 'hello') {
    $('#count-waiting').textContent = frame.counts.waiting;
    $('#count-mine').textContent = frame.counts.mine;
  } else if (frame.type === 'inbox') {
    refreshSoon();
  } else if (frame.type === 'interaction') {
    applyInteractionFrame(frame);
  } else if (frame.type === 'revoked') {
    if (frame.interaction_id === state.openId) {
      showInfo(_('Another agent took this conversation.'));
      leaveConversation();
    }
    refreshSoon();
  } else if (frame.type === 'offer') {
    applyOfferFrame(frame);
  } else if (frame.type === 'live') {
    applyLiveFrame(frame);
  } else if (frame.type === 'outage') {
    applyOutageFrame(frame);
  } else if (frame.type === 'error') {
    showError(frame.message);
  }
  applyStatusFrame(frame, state.agentId);
}

/** An accepted offer: the conversation is mine, open it ready to reply. */
async function openAccepted(id) {
  state.view = 'mine';
  for (const tab of document.querySelectorAll('[role="tab"]')) {
    tab.setAttribute('aria-selected', tab.dataset.view === 'mine' ? 'true' : 'false');
  }
  await openConversation(id, { focusReply: true });
  await refreshList();
}

function onState(status, detail) {
  const conn = $('#conn');
  if (status === 'open') {
    conn.textContent = _('Live');
    conn.className = 'conn conn-on';
    if (state.openId !== null) live.send({ type: 'watch', interaction_id: state.openId });
    if (detail) { catchUp(); refreshList(); refreshStatus(); }
    loadOffers();
  } else if (status === 'closed') {
    conn.textContent = _('Reconnecting in {seconds} s…', { seconds: Math.ceil(detail / 1000) });
    conn.className = 'conn conn-off';
  } else {
    conn.textContent = _('Connecting…');
    conn.className = 'conn conn-off';
  }
}

async function changeLocale(code) {
  try {
    await api('POST', '/api/me/locale', { locale: code });
    window.location.reload();
  } catch (err) {
    showError(err.message);
  }
}

boot();
