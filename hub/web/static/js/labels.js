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
