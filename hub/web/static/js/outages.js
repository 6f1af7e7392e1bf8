// The outage banner on agent screens: ongoing major outages from GET /api/outages, kept live by
// {"type": "outage"} frames; supervisors declare one and end one from here.

import { api } from './api.js';
import { $, clear, h } from './dom.js';
import { _, formatDateTime } from './i18n.js';
import { showError, showInfo } from './toast.js';

const outages = new Map();
let ending = null;

export function initOutages() {
  const declare = $('#outage-declare');
  if (declare) {
    declare.addEventListener('click', () => openDeclare());
    $('#outage-form').addEventListener('submit', (event) => { event.preventDefault(); submitDeclare(); });
    $('#outage-cancel').addEventListener('click', () => $('#outage-dialog').close());
    $('#outage-end-form').addEventListener('submit', (event) => { event.preventDefault(); submitEnd(); });
    $('#outage-end-cancel').addEventListener('click', () => $('#outage-end-dialog').close());
  }
  loadOutages();
}

export async function loadOutages() {
  let data;
  try {
    data = await api('GET', '/api/outages');
  } catch (err) {
    showError(err.message);
    return;
  }
  outages.clear();
  for (const row of data.items) {
    outages.set(row.id, { id: row.id, region: row.region, service: row.service, wording: row.wording,
      expected_end: row.expected_end });
  }
  render();
}

/** A frame from the ``outages`` topic: ``OutageEvent.as_dict()``. */
export function applyOutageFrame(frame) {
  if (frame.type !== 'outage') return;
  if (frame.kind === 'ended') {
    outages.delete(frame.outage_id);
  } else {
    outages.set(frame.outage_id, { id: frame.outage_id, region: frame.region, service: frame.service,
      wording: frame.wording, expected_end: frame.expected_end });
  }
  render();
}

function render() {
  const banner = $('#outage-banner');
  const supervisor = Boolean($('#outage-declare'));
  const list = clear($('#outage-list'));
  for (const outage of outages.values()) {
    const where = outage.service && outage.service !== '*'
      ? _('Outage in {region} ({service})', { region: outage.region, service: outage.service })
      : _('Outage in {region}', { region: outage.region });
    list.append(h('li', { class: 'outage', 'data-id': outage.id },
      h('strong', { class: 'outage-where', text: where }),
      h('span', { class: 'outage-wording', text: outage.wording }),
      outage.expected_end ? h('span', { class: 'outage-end-at',
        text: _('expected to end {time}', { time: formatDateTime(outage.expected_end) }) }) : null,
      supervisor ? h('button', { type: 'button', class: 'btn btn-small outage-end', text: _('End'),
        onclick: () => openEnd(outage) }) : null));
  }
  banner.hidden = outages.size === 0;
}

function openDeclare() {
  $('#outage-form').reset();
  $('#outage-error').hidden = true;
  $('#outage-dialog').showModal();
  $('#outage-region').focus();
}

async function submitDeclare() {
  const expected = $('#outage-expected').value;
  const body = {
    region: $('#outage-region').value.trim(), service: $('#outage-service').value.trim() || '*',
    wording: $('#outage-wording').value.trim(),
  };
  if (expected) body.expected_end = new Date(expected).toISOString();
  try {
    await api('POST', '/api/outages', body);
  } catch (err) {
    formError('#outage-error', err.message);
    return;
  }
  $('#outage-dialog').close();
  showInfo(_('Outage declared.'));
  loadOutages();
}

function openEnd(outage) {
  ending = outage;
  $('#outage-end-form').reset();
  $('#outage-end-what').textContent = outage.wording;
  $('#outage-end-error').hidden = true;
  $('#outage-end-dialog').showModal();
  $('#outage-end-message').focus();
}

async function submitEnd() {
  if (!ending) return;
  let result;
  try {
    result = await api('POST', `/api/outages/${ending.id}/end`, { message: $('#outage-end-message').value });
  } catch (err) {
    formError('#outage-end-error', err.message);
    return;
  }
  $('#outage-end-dialog').close();
  showInfo(_('Outage ended; {count} work orders answered and closed.', { count: result.closed }));
  ending = null;
  loadOutages();
}

function formError(selector, message) {
  const error = $(selector);
  error.textContent = message;
  error.hidden = false;
}
