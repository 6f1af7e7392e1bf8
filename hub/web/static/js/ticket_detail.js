// One ticket on the tickets page: what it is, where it stands, its timeline, and the actions
// its current step allows me. Every move sends the version I saw; a 409 offers a reload.

import { api } from './api.js';
import { $, clear, h } from './dom.js';
import { _, formatDateTime } from './i18n.js';
import { channelLabel } from './labels.js';
import { loadSimilar, similarSection } from './ticket_cases.js';
import {
  actionLabel, categoryLabel, choiceLabel, isOverdue, localName, referenceData, satisfactionLabel,
  stepLabel, ticketStatusLabel, typeLabel, unitLabel,
} from './ticket_labels.js';
import { showError, showInfo } from './toast.js';

const me = {
  id: Number(document.querySelector('meta[name="agent-id"]')?.content || 0),
  name: document.querySelector('meta[name="agent-name"]')?.content || '',
  supervisor: document.querySelector('meta[name="supervisor"]')?.content === 'true',
};
const names = new Map([[me.id, me.name]]);
let current = null;
let hooks = { changed: () => {} };
let busy = false;

export function initDetail(given) {
  hooks = given;
  if (me.supervisor) {
    api('GET', '/api/agents/states').then((data) => {
      for (const agent of data.items) names.set(agent.id, agent.name);
      if (current) render();
    }).catch(() => {});
  }
}

export function openTicketId() {
  return current ? current.ticket.id : null;
}

/** The version of the ticket shown: a frame about a newer one means it changed elsewhere. */
export function shownVersion() {
  return current ? current.ticket.version : null;
}

export async function showTicket(id) {
  let data;
  try {
    data = await api('GET', `/api/tickets/${id}`);
  } catch (err) {
    showError(err.message);
    return;
  }
  current = data;
  render();
  loadSimilar(data.ticket);
}

export function clearDetail() {
  current = null;
  clear($('#detail'));
  $('#detail-empty').hidden = false;
}

function personLabel(id) {
  if (id === null || id === undefined) return _('System');
  return names.get(id) || _('Agent #{id}', { id });
}

function render() {
  const { ticket, step } = current;
  $('#detail-empty').hidden = true;
  clear($('#detail')).append(
    header(ticket, step),
    h('div', { id: 'ticket-changed', class: 'alert alert-error', role: 'alert', hidden: true },
      h('span', { text: _('Someone changed this work order meanwhile. Reload it, then act again.') }), ' ',
      h('button', { type: 'button', class: 'btn btn-small', id: 'ticket-reload', text: _('Reload'),
        onclick: () => showTicket(ticket.id) })),
    facts(ticket),
    // Element.append would print a null as the text "null".
    ticket.description ? h('pre', { class: 'ticket-description', text: ticket.description }) : '',
    actions(),
    // Below the actions: suggestions arrive after the ticket and must not move its buttons.
    similarSection(ticket),
    timeline());
}

function header(ticket, step) {
  const overdue = isOverdue(ticket);
  // The catalog's words for the default steps; a template's own names for steps it adds.
  const known = stepLabel(ticket.step);
  const stepName = known !== ticket.step ? known : localName(step) || ticket.step;
  return h('div', { class: 'detail-head' },
    h('div', { class: 'detail-title' },
      h('span', { class: 'ticket-number', text: ticket.number }),
      h('h2', { id: 'ticket-title', text: ticket.title })),
    h('div', { class: 'detail-pills' },
      h('span', { class: 'ticket-type', text: typeLabel(ticket.type) }),
      h('span', { id: 'ticket-status', class: `ticket-status status-${ticket.status}`,
        text: ticketStatusLabel(ticket.status) }),
      ticket.is_case ? h('span', { id: 'ticket-case', class: 'ticket-case', text: _('In the case library') }) : null,
      ticket.status === 'open' ? h('span', { id: 'ticket-step', class: 'ticket-step', 'data-step': ticket.step,
        text: _('Step: {step}', { step: stepName }) }) : null,
      ticket.status === 'open' && ticket.step_due_at ? h('time', {
        id: 'ticket-due', class: `ticket-due${overdue ? ' overdue' : ''}`, datetime: ticket.step_due_at,
        text: overdue ? _('Overdue since {time}', { time: formatDateTime(ticket.step_due_at) })
          : _('Due {time}', { time: formatDateTime(ticket.step_due_at) }) }) : null));
}

function facts(ticket) {
  const rows = [
    [_('Level'), ticket.level ? choiceLabel(ticket.level) : ''],
    [_('Kind'), ticket.kind ? choiceLabel(ticket.kind) : ''],
    [_('Category'), categoryLabel(ticket.category_id)],
    [_('Region'), ticket.region],
    [_('Channel'), ticket.channel ? channelLabel(ticket.channel) : ''],
    [_('Phone'), ticket.phone],
    [_('Owner unit'), unitLabel(ticket.owner_unit_id)],
    [_('Handler'), ticket.handler_id ? personLabel(ticket.handler_id) : _('Nobody yet')],
    [_('Created'), formatDateTime(ticket.created_at)],
    [_('Whole ticket due'), formatDateTime(ticket.due_at)],
    [_('Urges'), ticket.urge_count ? String(ticket.urge_count) : ''],
    [_('Satisfaction'), ticket.satisfaction ? `${ticket.satisfaction} · ${satisfactionLabel(ticket.satisfaction)}` : ''],
  ].filter(([, value]) => value);
  return h('dl', { class: 'facts ticket-facts' },
    rows.flatMap(([label, value]) => [h('dt', { text: label }), h('dd', { text: value })]));
}

// -- actions --------------------------------------------------------------------------------

function actions() {
  const { ticket, step } = current;
  const box = h('section', { class: 'ticket-actions', 'aria-label': _('Actions') });
  if (ticket.status === 'closed') {
    if (me.supervisor) {
      box.append(opinionField(), buttonRow([button('reopen', _('Reopen'), () => move('reopen')),
        button('case', ticket.is_case ? _('Remove from cases') : _('Keep as a case'), () => keepCase(!ticket.is_case))]));
    }
    return box;
  }
  if (!current.may_act) {
    box.append(h('p', { id: 'not-yours', class: 'hint',
      text: _('This step is for {unit}; you may urge it.', { unit: unitLabel(ticket.owner_unit_id) }) }));
    box.append(buttonRow([button('urge', _('Urge'), urge, 'u')]));
    return box;
  }
  const moves = [];
  for (const target of step.next) {
    const label = step.dispatch ? _('Dispatch to {step}', { step: stepLabel(target) })
      : _('Advance to {step}', { step: stepLabel(target) });
    moves.push(button(`advance-${target}`, label, () => move('advance', { to_step: target }),
      target === step.next[0] ? 'a' : null, 'btn-primary'));
  }
  for (const target of step.return_to) {
    moves.push(button(`return-${target}`, _('Return to {step}', { step: stepLabel(target) }),
      () => move('return', { to_step: target })));
  }
  if (step.transfer) moves.push(button('transfer', _('Transfer'), () => move('transfer')));
  if (step.final) moves.push(button('close', _('Close the work order'), () => move('close'), null, 'btn-primary'));
  if (ticket.handler_id !== me.id) moves.push(button('take', _('Take'), () => move('take')));
  moves.push(button('comment', _('Comment'), () => move('comment')));
  moves.push(button('urge', _('Urge'), urge, 'u'));
  box.append(opinionField());
  if (step.dispatch || step.transfer) box.append(unitField(ticket));
  box.append(buttonRow(moves));
  if (ticket.interaction_id) box.append(replyForm());
  box.append(satisfactionRow(ticket));
  return box;
}

function button(action, label, onclick, key = null, extra = '') {
  return h('button', { type: 'button', class: `btn ${extra}`.trim(), 'data-action': action,
    'aria-keyshortcuts': key || undefined, onclick }, label, key ? h('kbd', { text: key }) : null);
}

function buttonRow(buttons) {
  return h('div', { class: 'action-row' }, buttons);
}

function opinionField() {
  return h('div', { class: 'field' },
    h('label', { for: 'ticket-opinion', text: _('Opinion (why; required to return, transfer, reopen or comment)') }),
    h('textarea', { id: 'ticket-opinion', rows: 2, maxlength: 4000 }));
}

function unitField(ticket) {
  const units = referenceData().units.filter((u) => u.id !== ticket.owner_unit_id);
  const select = h('select', { id: 'ticket-unit', 'aria-keyshortcuts': current.step.dispatch ? 'Enter' : undefined },
    h('option', { value: '', text: _('Choose the unit…') }),
    units.map((u) => h('option', { value: String(u.id), text: `${u.name} · ${u.code}` })));
  // At a dispatch step, Enter on the chosen unit dispatches to it.
  select.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && current.step.dispatch) { event.preventDefault(); advance(); }
  });
  return h('div', { class: 'field' }, h('label', { for: 'ticket-unit', text: _('Unit') }), select);
}

function replyForm() {
  const form = h('form', { id: 'ticket-reply', class: 'field', autocomplete: 'off' },
    h('label', { for: 'ticket-reply-text', text: _('Reply to the customer (on their channel)') }),
    h('textarea', { id: 'ticket-reply-text', rows: 3, maxlength: 10000, 'aria-keyshortcuts': 'r Control+Enter' }),
    h('div', { class: 'action-row' },
      h('button', { type: 'submit', class: 'btn', id: 'ticket-reply-send' }, _('Send reply'), h('kbd', { text: 'Ctrl+Enter' }))));
  form.addEventListener('submit', (event) => { event.preventDefault(); reply(); });
  form.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) { event.preventDefault(); reply(); }
  });
  return form;
}

function satisfactionRow(ticket) {
  return h('div', { class: 'field satisfaction' },
    h('span', { class: 'field-label', text: _('Customer satisfaction') }),
    h('div', { class: 'action-row' }, [5, 4, 3, 2, 1].map((value) => h('button', {
      type: 'button', class: `btn btn-small${ticket.satisfaction === value ? ' chosen' : ''}`,
      'data-satisfaction': value, title: satisfactionLabel(value), text: `${value} · ${satisfactionLabel(value)}`,
      onclick: () => feedback(value) }))));
}

function opinion() {
  return $('#ticket-opinion') ? $('#ticket-opinion').value.trim() : '';
}

function needOpinion(action) {
  return ['return', 'transfer', 'reopen', 'comment'].includes(action);
}

async function move(action, extra = {}) {
  const { ticket, step } = current;
  const body = { action, opinion: opinion(), version: ticket.version, ...extra };
  const unit = $('#ticket-unit') ? $('#ticket-unit').value : '';
  if ((action === 'advance' && step.dispatch) || action === 'transfer') {
    if (!unit) { hint(_('Choose the unit first.'), '#ticket-unit'); return; }
    body.to_unit = Number(unit);
  }
  if (needOpinion(action) && !body.opinion) { hint(_('Write the opinion first.'), '#ticket-opinion'); return; }
  await send(() => api('POST', `/api/tickets/${ticket.id}/actions`, body), _('Done: {action}.',
    { action: actionLabel(action === 'advance' && step.dispatch ? 'dispatch' : action) }));
}

/** a: advance to the only next step (or the first), dispatching to the unit chosen. */
export function advance() {
  if (!current || !current.may_act || current.ticket.status !== 'open') return;
  const target = current.step.next[0];
  if (!target) { hint(_('This is the last step: close the work order.')); return; }
  move('advance', { to_step: target });
}

export function focusTicketReply() {
  const box = $('#ticket-reply-text');
  if (box) box.focus();
  else if (current) showInfo(_('You cannot answer the customer from this work order now.'));
}

export async function urge() {
  if (!current || current.ticket.status !== 'open') return;
  await send(() => api('POST', `/api/tickets/${current.ticket.id}/urge`, { opinion: opinion() }), _('Urged.'));
}

async function keepCase(isCase) {
  await send(() => api('POST', `/api/tickets/${current.ticket.id}/case`, { is_case: isCase }),
    isCase ? _('Kept in the case library.') : _('Taken out of the case library.'));
}

async function reply() {
  const text = $('#ticket-reply-text').value.trim();
  if (!text) { hint(_('Write the reply first.'), '#ticket-reply-text'); return; }
  const { ticket } = current;
  await send(() => api('POST', `/api/tickets/${ticket.id}/reply`, { text, version: ticket.version }),
    _('Reply sent to the customer.'));
}

async function feedback(value) {
  const { ticket } = current;
  await send(() => api('POST', `/api/tickets/${ticket.id}/feedback`, { satisfaction: value, opinion: opinion() }),
    _('Satisfaction recorded: {value}.', { value }));
}

async function send(call, done) {
  if (busy || !current) return;
  busy = true;
  const id = current.ticket.id;
  try {
    await call();
  } catch (err) {
    if (err.code === 'ticket_changed') { $('#ticket-changed').hidden = false; $('#ticket-reload').focus(); }
    else showError(err.message);
    return;
  } finally {
    busy = false;
  }
  showInfo(done);
  await showTicket(id);
  if (current && current.ticket.id === id) hooks.changed(current.ticket);
}

function hint(message, focus) {
  showInfo(message);
  if (focus && $(focus)) $(focus).focus();
}

// -- timeline -------------------------------------------------------------------------------

function timeline() {
  const rows = current.timeline.map((line) => h('tr', { 'data-action': line.action },
    h('td', {}, h('time', { datetime: line.at, text: formatDateTime(line.at) })),
    h('td', { class: 'who', text: personLabel(line.actor_id) }),
    h('td', { text: line.actor_unit_id ? unitLabel(line.actor_unit_id) : '—' }),
    h('td', { class: 'what' }, h('strong', { text: actionLabel(line.action) }), moveText(line)),
    h('td', { class: 'opinion', text: line.opinion })));
  return h('section', { class: 'timeline', 'aria-labelledby': 'timeline-title' },
    h('h3', { id: 'timeline-title', text: _('Timeline') }),
    h('table', { id: 'timeline' },
      h('thead', {}, h('tr', {}, [_('When'), _('Who'), _('From unit'), _('Action'), _('Opinion')]
        .map((text) => h('th', { scope: 'col', text })))),
      h('tbody', {}, rows)));
}

function moveText(line) {
  const parts = [];
  if (line.to_step && line.to_step !== line.from_step) parts.push(` → ${stepLabel(line.to_step)}`);
  if (['dispatch', 'transfer', 'cc'].includes(line.action) && line.to_unit_id) {
    parts.push(` · ${unitLabel(line.to_unit_id)}`);
  }
  return parts.join('');
}
