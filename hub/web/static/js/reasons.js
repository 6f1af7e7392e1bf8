// Busy reasons and leave categories: the codes agents pick from, labelled in their language.

import { api } from './api.js';
import { locale } from './i18n.js';

const lists = new Map();
const labels = new Map();

/** The reasons for ``busy`` or ``leave``: [{code, label, limit}], fetched once per page. */
export function reasonsFor(agentState) {
  if (!lists.has(agentState)) {
    const loading = api('GET', `/api/state-reasons?state=${agentState}`).then((data) => {
      const items = data.items.map((r) => ({
        code: r.code, limit: r.limit_minutes,
        label: (locale === 'zh_CN' && r.label_zh_cn) || r.label_en || r.code,
      }));
      for (const item of items) labels.set(item.code, item.label);
      return items;
    });
    loading.catch(() => lists.delete(agentState));
    lists.set(agentState, loading);
  }
  return lists.get(agentState);
}

/** Both lists at once, so any reason code can be shown by name. */
export async function loadReasons() {
  await Promise.all([reasonsFor('busy'), reasonsFor('leave')]);
}

/** The label of a reason code once loaded; the code itself otherwise ("auto" reads as nothing). */
export function reasonLabel(code) {
  if (!code || code === 'auto') return '';
  return labels.get(code) || code;
}
