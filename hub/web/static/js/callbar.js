// The live controls of the open interaction (a call: hold, mute, record, transfer, hang up),
// as its channel declares them, with Alt+key for each; and the record once it has ended.

import { api } from './api.js';
import { $, clear, h } from './dom.js';
import { _ } from './i18n.js';
import { state } from './state.js';
import { showError } from './toast.js';

let current = { id: null, live: null, controls: [], record: {} };
let ticker = null;
let hooks = { open: async () => {} };
const popped = new Set();

export function initCallbar(given) {
  hooks = given;
  $('#control-form').addEventListener('submit', (event) => { event.preventDefault(); submitParams(); });
  $('#control-cancel').addEventListener('click', () => $('#control-dialog').close());
  // Enter in the list chooses, as it does in a text field.
  $('#control-dialog').addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && event.target.tagName === 'SELECT') {
      event.preventDefault();
      submitParams();
    }
  });
}

/** Load the live state and controls of the interaction just opened. */
export async function loadLive(id) {
  current = { id, live: null, controls: [], record: {} };
  render();
  let data;
  try {
    data = await api('GET', `/api/interactions/${id}/live`);
  } catch {
    return; // the conversation itself reports what went wrong
  }
  if (state.openId !== id) return;
  current = { id, live: data.live, controls: data.controls, record: data.record || {} };
  render();
}

/** A live frame: update the bar, or pop the call up if it just became mine. */
export function applyLiveFrame(frame) {
  const live = frame.live || {};
  if (frame.interaction_id === state.openId) {
    current.live = live.state === 'ended' ? null : live;
    if (live.state === 'ended') current.record = live;
    render();
  } else if (frame.type === 'live' && live.state === 'talking' && !popped.has(frame.interaction_id)) {
    popped.add(frame.interaction_id);
    hooks.open(frame.interaction_id); // the screen pop: the agent just answered this call
  }
}

/** Alt+key pressed outside a field: the control with that key, if one is shown now. */
export function controlForKey(key) {
  return usable().find((control) => control.key === key.toLowerCase()) || null;
}

export function useControlByKey(key) {
  const control = controlForKey(key);
  if (control) use(control);
  return control !== null;
}

function usable() {
  const live = current.live;
  if (!live) return [];
  return current.controls.filter((c) => !c.when.length || c.when.includes(live.state));
}

function pressed(control) {
  const value = control.pressed && current.live ? current.live[control.pressed] : null;
  return Boolean(value) && value !== 'off';
}

function render() {
  const bar = $('#callbar');
  clear(bar);
  clearInterval(ticker);
  const live = current.live;
  const record = current.record || {};
  if (!live && !Object.keys(record).length) {
    bar.hidden = true;
    return;
  }
  bar.hidden = false;
  if (live) {
    const status = h('span', { class: `call-state call-${live.state}`, id: 'call-state' }, stateLabel(live));
    bar.append(status);
    if (live.talking_since) {
      const clock = h('span', { class: 'call-clock', id: 'call-clock' });
      const tick = () => { clock.textContent = duration(Date.now() / 1000 - live.talking_since); };
      tick();
      ticker = setInterval(tick, 1000);
      bar.append(clock);
    }
    for (const control of usable()) {
      bar.append(h('button', {
        type: 'button', class: 'btn btn-small', 'data-action': control.action,
        'aria-pressed': control.pressed ? String(pressed(control)) : null,
        'aria-keyshortcuts': control.key ? `Alt+${control.key.toUpperCase()}` : null,
        title: control.key ? _('Alt+{key}', { key: control.key.toUpperCase() }) : null,
        onclick: () => use(control),
      }, controlLabel(control)));
    }
  } else {
    bar.append(h('span', { class: 'call-state call-ended', id: 'call-state' }, recordSummary(record)));
    for (const media of record.media || []) {
      const src = `/api/interactions/${current.id}/media/${encodeURIComponent(media.name)}`;
      bar.append(h('audio', { controls: true, preload: 'none', src, class: 'call-recording',
        'aria-label': _('Recording {name}', { name: media.name }) }));
    }
  }
}

function use(control) {
  if (!control.params.length) {
    send(control, {});
    return;
  }
  const dialog = $('#control-dialog');
  const fields = clear($('#control-fields'));
  $('#control-title').textContent = controlLabel(control);
  control.params.forEach((name, i) => {
    const label = h('label', { for: `control-${name}` }, paramLabel(name));
    if (i === 0 && control.options.length) {
      // A list to choose from (the IVR's nodes): arrows and Enter, as any select.
      fields.append(label, h('select', { id: `control-${name}`, name, required: true },
        ...control.options.map(([value, text]) => h('option', { value }, text))));
    } else {
      fields.append(label, h('input', { id: `control-${name}`, name, required: true, autocomplete: 'off',
        type: control.private.includes(name) ? 'password' : 'text' }));
    }
  });
  dialog.dataset.action = control.action;
  dialog.showModal();
  fields.querySelector('input, select')?.focus();
}

function submitParams() {
  const dialog = $('#control-dialog');
  const control = current.controls.find((c) => c.action === dialog.dataset.action);
  if (!control) return;
  const params = {};
  for (const name of control.params) params[name] = $(`#control-${name}`).value;
  dialog.close();
  send(control, params);
}

async function send(control, params) {
  const id = current.id;
  try {
    const data = await api('POST', `/api/interactions/${id}/controls/${control.action}`, { params });
    if (current.id === id && data.live) {
      current.live = data.live.state === 'ended' ? null : data.live;
      render();
    }
  } catch (err) {
    showError(err.message);
  }
}

function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const m = Math.floor(s / 60);
  return `${m}:${String(s % 60).padStart(2, '0')}`;
}

function stateLabel(live) {
  const labels = {
    talking: _('On the call'), held: _('Caller on hold'), queued: _('Transferred to a queue'),
    conference: _('Three-way call'), dialing: _('Calling the customer…'),
  };
  const consult = live.consult || {};
  const words = [live.state === 'consulting' ? _('Consulting {target}', { target: consult.target })
    : labels[live.state] || live.state];
  if (consult.state === 'ringing') words.push(_('ringing {target}', { target: consult.target }));
  if (consult.failed) words.push(_('no answer from {target}', { target: consult.failed }));
  if (live.muted) words.push(_('muted'));
  if (live.recording === 'on') words.push(_('recording'));
  if (live.recording === 'paused') words.push(_('recording paused'));
  // Silent listening shows only on the listener's own screen; whisper and barge are heard.
  const mine = live.supervisor_id === state.agentId;
  if (live.supervision === 'ringing' && mine) words.push(_('ringing your phone to listen in'));
  else if (live.whispering) words.push(_('supervisor whispering to the agent'));
  else if (live.barging) words.push(_('supervisor on the call'));
  else if (live.listening && mine) words.push(_('you are listening'));
  return words.join(' · ');
}

function recordSummary(record) {
  const sides = {
    customer: _('the customer hung up'), agent: _('the agent hung up'),
    transferred: _('transferred'), switch: _('the call was lost'),
  };
  const parts = [_('Call ended'), _('talk {time}', { time: duration(record.talk_seconds || 0) })];
  if (record.hold_seconds) parts.push(_('hold {time}', { time: duration(record.hold_seconds) }));
  if (record.wrap_up_seconds) parts.push(_('wrap-up {time}', { time: duration(record.wrap_up_seconds) }));
  if (record.hangup_side) parts.push(sides[record.hangup_side] || record.hangup_side);
  if (record.survey_score) parts.push(_('survey {score}/5', { score: record.survey_score }));
  return parts.join(' · ');
}

function controlLabel(control) {
  const labels = {
    hold: _('Hold'), resume: _('Resume'), mute: _('Mute'), dtmf: _('Send digits'), record: _('Record'),
    secure: _('Secure payment'), transfer_queue: _('Transfer to a queue'),
    transfer_number: _('Transfer to a number'), one_way_audio: _('Mark: one-way audio'),
    dropped: _('Mark: dropped call'), hangup: _('Hang up'), listen: _('Listen'),
    whisper: _('Whisper to the agent'), barge: _('Barge in'), take_over: _('Take over the call'),
    stop_supervising: _('Stop supervising'), consult: _('Consult'), complete_transfer: _('Transfer to them'),
    conference: _('Three-way call'), cancel_consult: _('Back to the caller'), transfer_ivr: _('Back to the IVR'),
    transfer_agent: _('Transfer to an agent'), consult_queue: _('Consult a queue'),
  };
  return labels[control.action] || control.label;
}

function paramLabel(name) {
  const labels = {
    digits: _('Digits'), queue: _('Queue'), number: _('Number'), target: _('Agent number or phone number'),
    node: _('Where in the IVR'), agent: _('Agent number'),
  };
  return labels[name] || name;
}
