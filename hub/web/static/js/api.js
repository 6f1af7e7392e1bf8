// The REST API: CSRF header on every POST, 401 back to the login page, errors with their message.

import { _ } from './i18n.js';

const csrf = document.querySelector('meta[name="csrf-token"]')?.content || '';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function api(method, path, body) {
  const options = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (method !== 'GET') options.headers['X-CSRF-Token'] = csrf;
  if (body instanceof FormData) {
    options.body = body;
  } else if (body !== undefined) {
    options.headers['Content-Type'] = 'application/json';
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, options);
  } catch {
    throw new ApiError(0, 'network', _('The hub cannot be reached; check the network and try again.'));
  }
  if (response.status === 401) {
    window.location.assign(`/login?next=${encodeURIComponent(window.location.pathname)}`);
    throw new ApiError(401, 'not_logged_in', _('Your session has ended; log in again.'));
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const message = (data && data.message) || _('The hub answered with error {status}.', { status: response.status });
    throw new ApiError(response.status, (data && data.error) || `http_${response.status}`, message);
  }
  return data;
}
