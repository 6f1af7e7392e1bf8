// Horizontal bar charts as plain SVG: a label, a bar, its value and, if given, a target mark.
// Two small charts do not justify a charting library; SVG also needs nothing the CSP forbids.

const NS = 'http://www.w3.org/2000/svg';
const WIDTH = 560;
const ROW = 26;
const LABEL = 160;
const VALUE = 96;

function svg(tag, attrs = {}, text = null) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== null) node.textContent = text;
  return node;
}

/**
 * ``rows``: [{label, value, text, target, className}]; ``max`` is the full-width value.
 * ``title`` names the chart for screen readers; each bar carries its own <title>.
 */
export function barChart(rows, { max, title, empty }) {
  const height = Math.max(1, rows.length) * ROW + 6;
  const chart = svg('svg', { class: 'chart', viewBox: `0 0 ${WIDTH} ${height}`, role: 'img', 'aria-label': title });
  if (!rows.length) {
    chart.append(svg('text', { x: 0, y: 18 }, empty));
    return chart;
  }
  const span = WIDTH - LABEL - VALUE;
  const scale = (value) => (max > 0 ? Math.min(1, Math.max(0, value / max)) * span : 0);
  rows.forEach((row, index) => {
    const y = index * ROW + 4;
    const group = svg('g', { class: 'chart-row', 'data-label': row.label });
    group.append(svg('title', {}, `${row.label}: ${row.text}`));
    group.append(svg('text', { class: 'label', x: 0, y: y + 14 }, row.label));
    group.append(svg('rect', { class: 'track', x: LABEL, y, width: span, height: ROW - 10, rx: 3 }));
    group.append(svg('rect', { class: `bar ${row.className || ''}`, x: LABEL, y, width: scale(row.value),
      height: ROW - 10, rx: 3 }));
    if (row.target !== undefined && row.target !== null) {
      const x = LABEL + scale(row.target);
      group.append(svg('line', { class: 'target', x1: x, x2: x, y1: y - 3, y2: y + ROW - 7 }));
    }
    group.append(svg('text', { class: 'value', x: WIDTH - VALUE + 8, y: y + 13 }, row.text));
    chart.append(group);
  });
  return chart;
}
