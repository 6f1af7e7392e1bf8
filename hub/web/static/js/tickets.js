// The tickets page: my tickets, my unit's queue and the search, beside one ticket's detail.
// Keyboard-first like the inbox; live over /ws/agent (outages, ticket changes).

import { api } from './api.js';
import { $, clear, debounce, h } from './dom.js';
import { _, formatDateTime, loadCatalog } from './i18n.js';
import { Live } from './live.js';
import { applyOutageFrame, initOutages } from './outages.js';
import {
  advance, clearDetail, focusTicketReply, initDetail, openTicketId, showTicket, shownVersion, urge,
} from './ticket_detail.js';
import { isOverdue, loadReference, stepLabel, ticketStatusLabel, typeLabel } from './ticket_labels.js';
import { loadReport } from './ticket_report.js';
import { fillSearchChoices, focusSearch, initSearch } from './ticket_search.js';
import { showError } from './toast.js';

const page = { view: 'mine', items: [], selected: -1 };
const supervisor = document.querySelector('meta[name="supervisor"]')?.content === 'true';
const live = new Live({ onFrame, onState });
const refreshSoon = debounce(() => refresh(), 300);
let prefix = null;

async function boot() {
  await loadCatalog();
  try {
    await loadReference();
  } catch (err) {
    showError(err.message);
  }
  fillSearchChoices();
  initDetail({ changed });
  initSearch({ found });
  initOutages();
  for (const tab of document.querySelectorAll('[role="tab"]')) {
    tab.addEventListener('click', () => switchView(tab.dataset.view));
  }
  $('#help-button').addEventListener('click', toggleHelp);
  document.addEventListener('keydown', onKey);
  window.addEventListener('hashchange', openFromHash);
  await refresh();
  openFromHash();
  live.connect();
}

function openFromHash() {
  const id = Number(window.location.hash.slice(1));
  if (id) showTicket(id);
}

async function refresh() {
  if (page.view === 'search') return;
  if (page.view === 'report') { await loadReport(); return; }
  let data;
  try {
    data = await api('GET', `/api/tickets?view=${page.view}`);
  } catch (err) {
    showError(err.message);
    return;
  }
  show(data.items, false);
}

/** I acted on ``ticket``: my lists are asked again; search results keep their page, updated. */
function changed(ticket) {
  if (page.view !== 'search') { refresh(); return; }
  const index = page.items.findIndex((t) => t.id === ticket.id);
  if (index < 0) return;
  page.items[index] = { ...page.items[index], ...ticket, overdue: undefined };
  renderList();
}

function found(data, more) {
  show(data.items, more);
}

function show(items, more) {
  const selectedId = page.items[page.selected]?.id;
  page.items = more ? [...page.items, ...items] : items;
  const index = page.items.findIndex((t) => t.id === selectedId);
  page.selected = index >= 0 ? index : Math.min(Math.max(page.selected, 0), page.items.length - 1);
  renderList();
}

function renderList() {
  const list = clear($('#ticket-list'));
  page.items.forEach((ticket, index) => list.append(row(ticket, index)));
  $('#ticket-list-empty').hidden = page.items.length > 0 || page.view === 'report';
  const current = page.items[page.selected];
  if (current) list.setAttribute('aria-activedescendant', `ticket-row-${current.id}`);
  else list.removeAttribute('aria-activedescendant');
}

function row(ticket, index) {
  const overdue = isOverdue(ticket);
  const classes = ['row', 'ticket-row'];
  if (index === page.selected) classes.push('selected');
  if (ticket.id === openTicketId()) classes.push('open');
  if (overdue) classes.push('overdue');
  return h('li', {
    id: `ticket-row-${ticket.id}`, role: 'option', class: classes.join(' '), 'data-id': ticket.id,
    'aria-selected': index === page.selected ? 'true' : 'false',
    onclick: () => { page.selected = index; openSelected(); },
  },
  h('div', { class: 'row-main' },
    h('div', { class: 'row-top' },
      h('span', { class: 'ticket-number', text: ticket.number }),
      h('span', { class: 'ticket-type', text: typeLabel(ticket.type) }),
      h('span', { class: `ticket-status status-${ticket.status}`, text: ticket.status === 'open'
        ? stepLabel(ticket.step) : ticketStatusLabel(ticket.status) })),
    h('div', { class: 'row-preview', text: ticket.title }),
    ticket.status === 'open' && ticket.step_due_at ? h('time', {
      class: `ticket-due${overdue ? ' overdue' : ''}`, datetime: ticket.step_due_at,
      text: overdue ? _('Overdue since {time}', { time: formatDateTime(ticket.step_due_at) })
        : _('Due {time}', { time: formatDateTime(ticket.step_due_at) }) }) : null));
}

function moveSelection(delta) {
  if (!page.items.length) return;
  page.selected = Math.min(page.items.length - 1, Math.max(0, page.selected + delta));
  renderList();
  const node = document.getElementById(`ticket-row-${page.items[page.selected].id}`);
  if (node) node.scrollIntoView({ block: 'nearest' });
}

async function openSelected() {
  const ticket = page.items[page.selected];
  if (!ticket) return;
  history.replaceState(null, '', `#${ticket.id}`);
  await showTicket(ticket.id);
  renderList();
}

function switchView(view) {
  page.view = view;
  for (const tab of document.querySelectorAll('[role="tab"]')) {
    tab.setAttribute('aria-selected', tab.dataset.view === view ? 'true' : 'false');
  }
  $('#search-panel').hidden = view !== 'search';
  $('#ticket-list').hidden = view === 'report';
  if (supervisor) $('#report-panel').hidden = view !== 'report';
  $('#search-more').hidden = true;
  page.items = [];
  page.selected = 0;
  renderList();
  if (view === 'search') focusSearch();
  else refresh();
}

function onFrame(frame) {
  if (frame.type === 'outage') {
    applyOutageFrame(frame);
  } else if (frame.type === 'ticket') {
    refreshSoon();
    // Re-rendering drops what I was typing: only when the ticket changed elsewhere.
    if (frame.id === openTicketId() && frame.version !== shownVersion()) showTicket(frame.id);
  } else if (frame.type === 'error') {
    showError(frame.message);
  }
}

function onState(status, detail) {
  const conn = $('#conn');
  if (status === 'open') {
    conn.textContent = _('Live');
    conn.className = 'conn conn-on';
    if (detail) refresh();
  } else if (status === 'closed') {
    conn.textContent = _('Reconnecting in {seconds} s…', { seconds: Math.ceil(detail / 1000) });
    conn.className = 'conn conn-off';
  } else {
    conn.textContent = _('Connecting…');
    conn.className = 'conn conn-off';
  }
}

// -- keys -----------------------------------------------------------------------------------

function typingIn(target) {
  return target instanceof HTMLElement
    && (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName));
}

function onKey(event) {
  if (event.defaultPrevented) return;
  const dialogOpen = document.querySelector('dialog[open]') !== null;
  if (typingIn(event.target)) {
    if (event.key === 'Escape' && !dialogOpen) { event.target.blur(); $('#ticket-list').focus(); }
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey || dialogOpen) return;
  if (event.key === 'Enter' && ['BUTTON', 'A'].includes(event.target.tagName)) return;
  const handler = prefix === 'g' ? goKeys()[event.key] : plainKeys()[event.key];
  prefix = null;
  if (!handler) return;
  event.preventDefault();
  handler();
}

function goKeys() {
  return {
    m: () => switchView('mine'), u: () => switchView('unit'), s: () => switchView('search'),
    i: () => window.location.assign('/inbox'),
    r: supervisor ? () => switchView('report') : undefined,
  };
}

function plainKeys() {
  return {
    j: () => moveSelection(1), ArrowDown: () => moveSelection(1),
    k: () => moveSelection(-1), ArrowUp: () => moveSelection(-1),
    Enter: () => openSelected(),
    a: () => advance(),
    r: () => focusTicketReply(),
    u: () => urge(),
    '/': () => switchView('search'),
    '?': () => toggleHelp(),
    g: () => { prefix = 'g'; setTimeout(() => { prefix = null; }, 1500); },
  };
}

function toggleHelp() {
  const dialog = $('#help-dialog');
  if (dialog.open) dialog.close();
  else dialog.showModal();
}

window.contacthub = { live, clearDetail };
boot();
