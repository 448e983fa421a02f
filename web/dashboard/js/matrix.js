// The compatibility matrix from /api/matrix (the structure `matrix --format json` prints),
// laid out as `matrix` lays out its Markdown: a table per section, each cell's summary with
// the numbers of its footnotes, and the footnotes (the reason or message of every result that
// is not ok, each distinct text once, numbered in first-use order).

import { el, clear } from './dom.js';

const LEGEND =
  'ok E: ran; E is the worst max abs error of its fp32 results against the CPU fp32 plain ' +
  'reference. ok (reference): the reference itself. failed: KIND: ran and failed. skipped: not ' +
  'run (estimated memory does not fit). unavailable: the platform or provider is not there. ' +
  '—: never tried. [n]: the footnote. Point at a cell for every result in it.';

const KNOWN = new Set(['ok', 'failed', 'skipped', 'unavailable', 'never-tried']);

export function rowLabel(row) {
  if (row.section === 'key-model') return `${row.label} (${row.models[0] ?? ''})`;
  const n = row.models.length;
  return `${row.label} (${n} model${n === 1 ? '' : 's'})`;
}

// As the CLI words a footnote: the variant and what happened (a missing platform: no variant).
export function footnoteText(r) {
  let text =
    r.status === 'unavailable' ? r.status : `${r.precision} ${r.graph_variant} ${r.status}`;
  if (r.error_class && r.error_class !== r.status) text += ` (${r.error_class})`;
  if (r.error_message) text += `: ${r.error_message}`;
  return text;
}

function resultLine(r) {
  let line = `${r.model_label} ${r.precision} ${r.graph_variant} on ${r.platform}`;
  if (r.hostname) line += ` (${r.hostname})`;
  line += `: ${r.status}`;
  if (r.status === 'ok') {
    if (r.reference) line += ', the fp32 reference';
    if (r.max_abs_error !== null) line += `, max abs error ${r.max_abs_error.toExponential(1)}`;
  } else if (r.error_message) {
    line += `: ${r.error_message}`;
  }
  return `${line}; run ${r.run_id} at ${r.run_started_at}`;
}

function dataLine(m) {
  if (!m.result_count)
    return `Data: ${m.database}: no compatibility results yet; generated ${m.generated_at}.`;
  return (
    `Data: ${m.database}, host${m.hosts.length === 1 ? '' : 's'} ${m.hosts.join(', ')}; ` +
    `${m.result_count} results from runs started ${m.first_run_at} to ${m.last_run_at}; ` +
    `generated ${m.generated_at}.`
  );
}

// The footnote numbers of a cell, adding its new texts to `notes`.
function noteRefs(cell, notes) {
  const used = new Set();
  for (const r of cell.results) {
    if (r.status === 'ok') continue;
    const text = footnoteText(r);
    if (!notes.includes(text)) notes.push(text);
    used.add(notes.indexOf(text) + 1);
  }
  return [...used]
    .sort((a, b) => a - b)
    .map((n) => `[${n}]`)
    .join('');
}

function sectionTable(m, section, notes) {
  const head = el('tr', {}, [
    el('th', {}, section === 'key-model' ? 'Model' : 'Family'),
    ...m.columns.map((c) => el('th', { title: c.platforms.join(', ') }, c.title)),
  ]);
  const rows = m.rows
    .filter((row) => row.section === section)
    .map((row) =>
      el('tr', {}, [
        el('th', {}, rowLabel(row)),
        ...m.columns.map((c) => {
          const cell = row.cells[c.title];
          const refs = noteRefs(cell, notes);
          const state = KNOWN.has(cell.status) ? cell.status : 'other';
          return el(
            'td',
            { class: `state-${state}`, title: cell.results.map(resultLine).join('\n') },
            [
              el('span', { class: 'summary' }, cell.summary),
              refs ? el('sup', { class: 'refs' }, refs) : null,
            ],
          );
        }),
      ]),
    );
  return el('table', { class: 'matrix', 'data-section': section }, [
    el('thead', {}, head),
    el('tbody', {}, rows),
  ]);
}

// Renders matrix JSON `m` into the page's matrix section.
export function showMatrix(m) {
  document.getElementById('matrix-data').textContent = `${dataLine(m)} ${LEGEND}`;
  const tables = clear(document.getElementById('matrix-tables'));
  const notes = [];
  for (const [section, title] of [
    ['key-model', 'Key model classes'],
    ['family', 'Model families'],
  ]) {
    if (!m.rows.some((row) => row.section === section)) continue;
    tables.append(el('h3', {}, title), sectionTable(m, section, notes));
    if (section === 'family')
      tables.append(
        el(
          'ul',
          { class: 'family-models' },
          m.rows
            .filter((r) => r.section === 'family')
            .map((r) => el('li', {}, `${r.label}: ${r.models.join(', ')}`)),
        ),
      );
  }
  const list = clear(document.getElementById('matrix-notes'));
  for (const text of notes) list.append(el('li', {}, text));
}
