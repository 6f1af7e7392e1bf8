// The inbox side of work orders: the customer's open and recent tickets beside the open
// conversation, and a new ticket from the conversation in two keystrokes (w, Ctrl+Enter).

import { api } from './api.js';
import { $, clear, h } from './dom.js';
import { _, formatDateTime } from './i18n.js';
import { state } from './state.js';
import {
  choiceLabel, isOverdue, loadReference, localName, referenceData, stepLabel, ticketStatusLabel, typeLabel,
} from './ticket_labels.js';
import { showError, showInfo } from './toast.js';

const TITLE_LENGTH = 120;
const CHOICES = ['level', 'kind', 'source'];
let shownFor = null;
let customerTickets = [];

export function initTicketPanel() {
  $('#ticket-form').addEventListener('submit', (event) => { event.preventDefault(); createTicket(); });
  $('#ticket-form').addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) { event.preventDefault(); createTicket(); }
  });
  $('#ticket-cancel').addEventListener('click', () => $('#ticket-dialog').close());
  $('#ticket-type').addEventListener('change', () => renderChoices());
  $('#ticket-button').addEventListener('click', () => openTicketForm());
  loadReference().catch(() => {});
}

/** The customer's tickets, shown when a conversation opens. */
export async function loadCustomerTickets(customerId) {
  shownFor = customerId;
  let data;
  try {
    [data] = await Promise.all([api('GET', `/api/customers/${customerId}/tickets`), loadReference()]);
  } catch (err) {
    if (err.status !== 403) showError(err.message);
    return;
  }
  if (shownFor !== customerId) return;
  customerTickets = data.items;
  const list = clear($('#cust-tickets'));
  if (!data.items.length) list.append(h('li', { class: 'empty', text: _('No work orders.') }));
  for (const ticket of data.items) list.append(ticketRow(ticket));
}

export function hideCustomerTickets() {
  shownFor = null;
  customerTickets = [];
  clear($('#cust-tickets'));
}

function ticketRow(ticket) {
  const overdue = isOverdue(ticket);
  return h('li', { class: `cust-ticket ticket-${ticket.status}${overdue ? ' overdue' : ''}`, 'data-id': ticket.id },
    h('div', { class: 'cust-ticket-line' },
      h('a', { href: `/tickets#${ticket.id}`, class: 'ticket-number', text: ticket.number }),
      h('span', { class: 'ticket-type', text: typeLabel(ticket.type) }),
      h('span', { class: `ticket-status status-${ticket.status}`, text: ticketStatusLabel(ticket.status) })),
    h('div', { class: 'cust-ticket-title', text: ticket.title }),
    ticket.status === 'open' ? h('div', { class: 'cust-ticket-step' },
      h('span', { class: 'ticket-step', text: stepLabel(ticket.step) }),
      ticket.step_due_at ? h('time', {
        class: `ticket-due${overdue ? ' overdue' : ''}`, datetime: ticket.step_due_at,
        text: overdue ? _('Overdue since {time}', { time: formatDateTime(ticket.step_due_at) })
          : _('Due {time}', { time: formatDateTime(ticket.step_due_at) }),
      }) : null) : null);
}

// -- a new ticket from the open conversation ------------------------------------------------

/** The conversation's subject, else the customer's first message, as a one-line title. */
function suggestedTitle() {
  const open = state.open;
  if (open && open.subject) return open.subject.slice(0, TITLE_LENGTH);
  const first = [...state.messages.values()].sort((a, b) => a.seq - b.seq)
    .find((m) => m.direction === 'in' && m.text);
  const text = first ? first.text.replace(/\s+/g, ' ').trim() : '';
  return text.slice(0, TITLE_LENGTH) || _('Contact of {time}', { time: formatDateTime(open?.created_at) });
}

export async function openTicketForm() {
  if (!state.open) { showInfo(_('Open a conversation first.')); return; }
  try {
    await loadReference();
  } catch (err) {
    showError(err.message);
    return;
  }
  const { types, categories } = referenceData();
  clear($('#ticket-type')).append(...types.map((t) => h('option', { value: t.code, text: localName(t) })));
  $('#ticket-type').value = types.some((t) => t.code === 'complaint') ? 'complaint' : types[0]?.code || '';
  clear($('#ticket-category')).append(h('option', { value: '', text: '—' }), ...categoryOptions(categories));
  $('#ticket-title').value = suggestedTitle();
  $('#ticket-description').value = '';
  $('#ticket-error').hidden = true;
  renderChoices();
  $('#ticket-dialog').showModal();
  $('#ticket-title').focus();
}

/** The category tree as indented options, parents before their children. */
function categoryOptions(categories, parent = null, depth = 0) {
  return categories.filter((c) => (c.parent_id ?? null) === parent).flatMap((c) => [
    h('option', { value: String(c.id), text: `${'  '.repeat(depth)}${depth ? '› ' : ''}${localName(c)}` }),
    ...categoryOptions(categories, c.id, depth + 1)]);
}

/** The chosen type's own choices; an appeal also names the complaint it appeals. */
function renderChoices() {
  const type = referenceData().types.find((t) => t.code === $('#ticket-type').value);
  const fields = (type && type.fields) || {};
  for (const name of CHOICES) {
    const select = $(`#ticket-${name}`);
    const values = fields[name] || [];
    clear(select).append(h('option', { value: '', text: '—' }),
      ...values.map((v) => h('option', { value: v, text: choiceLabel(v) })));
    if (name === 'level' && values.includes('general')) select.value = 'general';
    select.closest('.field').hidden = !values.length;
  }
  const linked = $('#ticket-linked');
  const candidates = type && type.links ? customerTickets.filter((t) => t.type === type.links) : [];
  clear(linked).append(...candidates.map((t) => h('option', { value: String(t.id), text: `${t.number} · ${t.title}` })));
  if (type && type.links && !candidates.length) {
    linked.append(h('option', { value: '', text: _('This customer has none to link') }));
  }
  linked.closest('.field').hidden = !(type && type.links);
}

function formBody() {
  const body = {
    type: $('#ticket-type').value, title: $('#ticket-title').value.trim(),
    description: $('#ticket-description').value, interaction_id: state.openId,
  };
  for (const name of CHOICES) body[name] = $(`#ticket-${name}`).value;
  const category = $('#ticket-category').value;
  if (category) body.category_id = Number(category);
  const linked = $('#ticket-linked');
  if (!linked.closest('.field').hidden && linked.value) body.linked_ticket_id = Number(linked.value);
  return body;
}

let creating = false;

async function createTicket() {
  const error = $('#ticket-error');
  const body = formBody();
  if (!body.title) {
    error.textContent = _('Give the work order a title.');
    error.hidden = false;
    return;
  }
  if (creating) return;
  creating = true;
  let ticket;
  try {
    ticket = await api('POST', '/api/tickets', body);
  } catch (err) {
    error.textContent = err.message;
    error.hidden = false;
    return;
  } finally {
    creating = false;
  }
  $('#ticket-dialog').close();
  showInfo(_('Work order {number} created.', { number: ticket.number }));
  if (state.open) loadCustomerTickets(state.open.customer_id);
}
