// The recommender: one configuration of a measured model, ranked over the hardware by
// /api/select (what `select --json` prints). The form's state is its own, not the URL's: the
// page's filters select results, this asks a question about one configuration.
// #recommend's dataset.state says "idle", "loading", "ready" or "error".

import { getJson } from './api.js';
import { clear, el, fillTable, num } from './dom.js';

const section = document.getElementById('recommend');
const form = document.getElementById('recommend-form');
const note = document.getElementById('recommend-note');

const COLUMNS = [
  ['rank', (r) => r.rank],
  ['hardware', (r) => r.hardware],
  ['figure', (r) => r.origin],
  ['p50 ms', (r) => num(r.latency_ms)],
  [
    '80 % interval ms',
    (r) =>
      r.latency_interval_80pct_ms
        ? r.latency_interval_80pct_ms.map((v) => num(v, 3)).join('–')
        : '',
  ],
  ['items/s', (r) => num(r.throughput_items_per_s)],
  ['memory MiB', (r) => Math.round(r.memory_bytes / 2 ** 20)],
  ['memory from', (r) => (r.memory_origin === 'measured' ? 'measured peak' : 'estimate')],
];

function setState(state, message = '') {
  section.dataset.state = state;
  note.textContent = message;
  note.className = state === 'error' ? 'note error' : 'note';
}

// The API loads catalog and template models by name and seed: stored models whose weights
// were random ("seed:N") are the ones it can rank.
export function setRecommendModels(models) {
  const choices = models
    .filter((m) => m.results > 0 && /^seed:\d+$/.test(m.content_hash ?? ''))
    .map((m) => ({ label: m.label, name: m.name, seed: m.content_hash.slice(5) }));
  const select = form.elements.model;
  clear(select).append(
    ...choices.map((c) => el('option', { value: `${c.name}\n${c.seed}` }, c.label)),
  );
  setState('idle', choices.length ? '' : 'No stored model can be ranked here.');
}

async function rank() {
  const [model, seed] = form.elements.model.value.split('\n');
  const params = { model, seed };
  for (const name of ['batch_size', 'seq_len', 'precision', 'metric', 'max_memory_gb'])
    params[name] = form.elements[name].value;
  setState('loading', 'ranking…');
  try {
    const answer = await getJson('/api/select', params);
    fillTable(
      document.getElementById('recommend-table'),
      COLUMNS,
      answer.ranked.map((r, i) => ({ ...r, rank: i + 1 })),
    );
    clear(document.getElementById('recommend-excluded')).append(
      ...answer.excluded.map((text) => el('li', {}, `left out: ${text}`)),
    );
    setState('ready', answer.notes.join(' '));
  } catch (error) {
    clear(document.getElementById('recommend-table'));
    setState('error', error.message);
  }
}

export function bindRecommender() {
  setState('idle');
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    rank();
  });
}
