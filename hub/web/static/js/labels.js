// Words for the hub's codes (channels, statuses, delivery, tiers); unknown codes show as stored.

import { _ } from './i18n.js';

export function channelLabel(channel) {
  const labels = {
    web: _('Web chat'), email: _('Email'), sms: _('SMS'), voice: _('Phone'),
    wechat: _('WeChat'), fax: _('Fax'), telegram: _('Telegram'),
  };
  return labels[channel] || channel;
}

/** The kind of an address a customer is known by: an address kind, or a channel's name. */
export function identityLabel(kind) {
  const labels = { phone: _('Phone number'), email: _('Email address') };
  return labels[kind] || channelLabel(kind);
}

const CHANNEL_MARKS = { web: 'WEB', email: 'MAIL', sms: 'SMS', voice: 'TEL', wechat: 'WX', fax: 'FAX', telegram: 'TG' };

export function channelMark(channel) {
  return CHANNEL_MARKS[channel] || channel.slice(0, 4).toUpperCase();
}

export function statusLabel(status) {
  const labels = {
    queued: _('Waiting'), followup: _('Follow-up'), assigned: _('In progress'), closed: _('Closed'),
  };
  return labels[status] || status;
}

export function deliveryLabel(status) {
  const labels = {
    pending: _('Sending…'), sent: _('Sent'), delivered: _('Delivered'), read: _('Read'), failed: _('Failed'),
  };
  return labels[status] || status;
}

export function tierLabel(tier) {
  const labels = {
    ordinary: _('Ordinary'), silver: _('Silver'), gold: _('Gold'), platinum: _('Platinum'),
    diamond: _('Diamond'), vip: _('VIP'),
  };
  return labels[tier] || tier;
}

export function authorLabel(message) {
  if (message.author_name) return message.author_name;
  const labels = { customer: _('Customer'), agent: _('Agent'), system: _('System'), bot: _('Bot') };
  return labels[message.author_type] || message.author_type;
}

export function stateLabel(agentState) {
  const labels = {
    logged_out: _('Logged out'), idle: _('Idle'), busy: _('Busy'), offered: _('Ringing'),
    active: _('On a contact'), hold: _('On hold'), wrap_up: _('Wrap-up'), adjust: _('Adjust'),
    leave: _('Leave'), study: _('Study'), handover: _('Hand-over'),
  };
  return labels[agentState] || agentState;
}

/** Seconds as a clock: 0:42, 12:05, 1:02:09. */
export function formatSeconds(value) {
  let total = Math.max(0, Math.floor(value || 0));
  const hours = Math.floor(total / 3600);
  total %= 3600;
  const minutes = Math.floor(total / 60);
  const seconds = String(total % 60).padStart(2, '0');
  return hours ? `${hours}:${String(minutes).padStart(2, '0')}:${seconds}` : `${minutes}:${seconds}`;
}
