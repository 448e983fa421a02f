// The trend view: p50 per configuration over commits, with the regressions /api/compare finds
// between each commit and the one before it (the same check `compare` runs in CI).

import { getJson } from './api.js';
import { configurationKey, trendByCommit } from './series.js';
import { drawTrend } from './charts.js';

const MAX_COMPARISONS = 12; // the newest commit pairs checked; older ones are shown unmarked

// Series key -> commit indexes where the contender regressed against the commit before;
// failures of /api/compare (a commit that is no git hash, say) are returned as notes.
async function regressionMarks(trend, filters) {
  const marks = new Map();
  const notes = [];
  const { commits } = trend;
  const first = Math.max(1, commits.length - MAX_COMPARISONS);
  const checks = [];
  for (let i = first; i < commits.length; i++) {
    const params = {
      baseline: commits[i - 1].replace(/-dirty$/, ''),
      contender: commits[i].replace(/-dirty$/, ''),
      include_dirty: true,
      model: filters.model,
      hardware: filters.platform,
    };
    checks.push(
      getJson('/api/compare', params).then(
        (c) => {
          for (const row of c.table.rows) {
            if (row.verdict !== 'regression') continue;
            const key = configurationKey(row);
            marks.set(key, [...(marks.get(key) ?? []), i]);
          }
        },
        (e) =>
          notes.push(
            `${params.baseline.slice(0, 12)} → ${params.contender.slice(0, 12)}: ${e.message}`,
          ),
      ),
    );
  }
  await Promise.all(checks);
  return { marks, notes };
}

// `rows`: every result the filters select (not only the latest).
export async function showTrend(rows, filters, noteElement) {
  const trend = trendByCommit(rows);
  const { marks, notes } =
    trend.commits.length > 1
      ? await regressionMarks(trend, filters)
      : { marks: new Map(), notes: [] };
  drawTrend('trend-chart', trend, marks);
  const count = [...marks.values()].reduce((n, m) => n + m.length, 0);
  noteElement.textContent =
    `${trend.commits.length} commit${trend.commits.length === 1 ? '' : 's'}, ` +
    `${count} regression${count === 1 ? '' : 's'} marked ` +
    '(z-score or U test against the commit before)' +
    (notes.length ? `; not compared: ${notes.join('; ')}` : '');
}
