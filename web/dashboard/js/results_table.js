// The results explorer: the filtered results, newest run first, a page at a time.

import { getJson } from './api.js';
import { fillTable, num } from './dom.js';

export const PAGE_SIZE = 50;

const COLUMNS = [
  ['started', (r) => r.started_at.replace('T', ' ').replace('Z', '')],
  ['commit', (r) => r.commit.slice(0, 12)],
  ['model', (r) => r.model_label],
  ['platform', (r) => r.platform],
  ['device', (r) => r.device],
  ['precision', (r) => r.precision],
  ['graph', (r) => r.graph_variant],
  ['scenario', (r) => r.scenario],
  ['batch', (r) => r.batch_size],
  ['seq', (r) => r.seq_len],
  ['p50 ms', (r) => num(r.latency_p50_ms)],
  ['p90 ms', (r) => num(r.latency_p90_ms)],
  ['p99 ms', (r) => num(r.latency_p99_ms)],
  ['items/s', (r) => num(r.throughput_items_per_s)],
  [
    'peak RSS MiB',
    (r) => (r.peak_rss_bytes === null ? null : Math.round(r.peak_rss_bytes / 2 ** 20)),
  ],
];

// Shows the page at `offset` of the results `params` select; answers the total.
export async function showResults(params, offset) {
  const page = await getJson('/api/results', { ...params, limit: PAGE_SIZE, offset });
  fillTable(document.getElementById('results-table'), COLUMNS, page.items);
  document.getElementById('results-count').textContent = `(${page.total})`;
  const last = Math.min(offset + page.items.length, page.total);
  document.getElementById('page-info').textContent = page.total
    ? `${offset + 1}–${last} of ${page.total}`
    : 'none';
  document.getElementById('prev-page').disabled = offset === 0;
  document.getElementById('next-page').disabled = last >= page.total;
  return page.total;
}
