// Offers ringing at me: a card with a countdown, accepted with Enter or a, declined with d.
// The router decides when an offer ends; the countdown only shows what it will do.

import { api } from './api.js';
import { $, clear, h } from './dom.js';
import { _, parseTime } from './i18n.js';
import { channelLabel, channelMark, formatSeconds, tierLabel } from './labels.js';
import { showError, showInfo } from './toast.js';

const offers = new Map();
let hooks = { opened: () => {} };

export function initOffers(given) {
  hooks = given;
}

/** After (re)connecting: the offers still ringing, as the database has them. */
export async function loadOffers() {
  let data;
  try {
    data = await api('GET', '/api/me/offers');
  } catch (err) {
    showError(err.message);
    return;
  }
  const ringing = new Set(data.items.map((item) => item.interaction_id));
  for (const id of offers.keys()) if (!ringing.has(id)) offers.delete(id);
  for (const item of data.items) {
    const known = offers.get(item.interaction_id);
    const offeredAt = parseTime(item.offered_at);
    const expires = parseTime(item.expires_at);
    offers.set(item.interaction_id, {
      ...known, id: item.interaction_id, queue: item.queue, channel: item.channel,
      tier: known ? known.tier : '', waitedFrom: known ? known.waitedFrom : offeredAt.getTime(),
      deadline: expires ? expires.getTime() : Date.now() + 20000,
      timeout: expires ? (expires.getTime() - offeredAt.getTime()) / 1000 : 20,
    });
  }
  render();
}

export function applyOfferFrame(frame) {
  const id = frame.interaction_id;
  if (frame.kind === 'offered') {
    const timeout = frame.timeout || 20;
    offers.set(id, {
      id, queue: frame.queue, channel: frame.channel, tier: frame.tier, timeout,
      deadline: Date.now() + timeout * 1000, waitedFrom: Date.now() - (frame.waited || 0) * 1000,
    });
    render();
    return;
  }
  const had = offers.delete(id);
  render();
  if (!had) return;
  const notices = {
    timeout: _('Offer timed out: you are now busy (missed offer).'),
    declined: _('Offer declined: you are now busy (missed offer).'),
    withdrawn: _('Offer withdrawn: the customer left or was moved.'),
  };
  if (notices[frame.kind]) showInfo(notices[frame.kind]);
}

export function hasOffer() {
  return offers.size > 0;
}

function first() {
  return [...offers.values()].sort((a, b) => a.deadline - b.deadline)[0];
}

export async function acceptOffer(id = first()?.id) {
  if (id === undefined) return;
  try {
    await api('POST', `/api/offers/${id}/accept`);
  } catch (err) {
    showError(err.message);
    if (err.code === 'offer_gone') { offers.delete(id); render(); }
    return;
  }
  offers.delete(id);
  render();
  hooks.opened(id);
}

export async function declineOffer(id = first()?.id) {
  if (id === undefined) return;
  try {
    await api('POST', `/api/offers/${id}/decline`);
  } catch (err) {
    showError(err.message);
    if (err.code === 'offer_gone') { offers.delete(id); render(); }
  }
  // The declined frame removes the card and says what it means.
}

function render() {
  const box = clear($('#offers'));
  box.hidden = offers.size === 0;
  const sorted = [...offers.values()].sort((a, b) => a.deadline - b.deadline);
  sorted.forEach((offer, index) => box.append(card(offer, index === 0)));
  tickOffers();
}

function card(offer, keyed) {
  return h('article', { class: 'offer', id: `offer-${offer.id}`, 'data-id': offer.id,
    'aria-label': _('New contact offered') },
  h('div', { class: 'offer-head' },
    h('span', { class: `chan chan-${offer.channel}`, title: channelLabel(offer.channel),
      text: channelMark(offer.channel) }),
    h('strong', { text: _('New contact offered') }),
    offer.tier ? h('span', { class: `tier tier-${offer.tier}`, text: tierLabel(offer.tier) }) : null),
  h('p', { class: 'offer-facts' },
    _('Queue {queue}', { queue: offer.queue }), ' · ',
    h('span', { class: 'offer-waited', text: '' })),
  h('div', { class: 'offer-clock' },
    h('progress', { class: 'offer-progress', max: offer.timeout, value: offer.timeout }),
    h('span', { class: 'offer-left', role: 'timer', text: '' })),
  h('div', { class: 'offer-actions' },
    h('button', { type: 'button', class: 'btn btn-primary offer-accept', onclick: () => acceptOffer(offer.id) },
      _('Accept'), keyed ? [' ', h('kbd', { text: 'Enter' })] : null),
    h('button', { type: 'button', class: 'btn offer-decline', onclick: () => declineOffer(offer.id) },
      _('Decline'), keyed ? [' ', h('kbd', { text: 'd' })] : null)));
}

/** Every second: the countdowns and the customers' waits. */
export function tickOffers() {
  for (const offer of offers.values()) {
    const node = document.getElementById(`offer-${offer.id}`);
    if (!node) continue;
    const left = Math.max(0, Math.ceil((offer.deadline - Date.now()) / 1000));
    node.querySelector('.offer-left').textContent = _('{seconds} s left', { seconds: left });
    node.querySelector('.offer-progress').value = left;
    node.querySelector('.offer-waited').textContent = _('waiting {time}', {
      time: formatSeconds((Date.now() - offer.waitedFrom) / 1000) });
  }
}
