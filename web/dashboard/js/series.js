// Results (rows of /api/results) grouped into chart series, pure functions: one series per
// platform and precision, split further by whatever else varies among the rows (model, device
// within a platform, graph, scenario, sequence length), so two different configurations never
// share a line and a label names only what tells series apart.

const DIMENSIONS = [
  ['model', (r) => r.model_label],
  ['platform', (r) => r.platform],
  ['device', (r) => `${r.platform} ${r.device}`],
  ['precision', (r) => r.precision],
  ['graph', (r) => r.graph_variant],
  ['scenario', (r) => r.scenario],
  ['seq', (r) => `seq ${r.seq_len}`],
];
const ALWAYS_SHOWN = new Set(['platform', 'precision']);

// "cpu fp32 b2" before "cpu fp32 b16".
const byLabel = (a, b) => a.label.localeCompare(b.label, 'en', { numeric: true });

// The dimensions whose value differs among `rows`, plus platform and precision.
export function shownDimensions(rows) {
  return DIMENSIONS.filter(([name, value]) => {
    if (ALWAYS_SHOWN.has(name)) return true;
    if (name === 'device') {
      const perPlatform = new Map();
      for (const r of rows)
        perPlatform.set(r.platform, (perPlatform.get(r.platform) ?? new Set()).add(r.device));
      return [...perPlatform.values()].some((devices) => devices.size > 1);
    }
    return new Set(rows.map(value)).size > 1;
  });
}

// The series key (every dimension) and its label (the shown ones).
export function seriesOf(row, shown) {
  const key = DIMENSIONS.map(([, value]) => value(row)).join('\u001f');
  const label = shown
    .map(([name, value]) => (name === 'device' ? row.device : value(row)))
    .join(' ');
  return { key, label };
}

// [{label, points: [[batch, y], ...] by batch}] for the rows' `field`; rows come newest first,
// so of two rows of one series and batch the first (newest) is kept. Rows without a value of
// `field` are left out.
export function seriesByBatch(rows, field) {
  const shown = shownDimensions(rows);
  const series = new Map();
  for (const row of rows) {
    if (row[field] === null || row[field] === undefined) continue;
    const { key, label } = seriesOf(row, shown);
    if (!series.has(key)) series.set(key, { label, points: new Map() });
    const points = series.get(key).points;
    if (!points.has(row.batch_size)) points.set(row.batch_size, row[field]);
  }
  return [...series.values()]
    .map(({ label, points }) => ({ label, points: [...points].sort((a, b) => a[0] - b[0]) }))
    .sort((a, b) => byLabel(a, b));
}

function median(values) {
  const v = [...values].sort((a, b) => a - b);
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

// A configuration as /api/compare's table names one: model label, platform, device,
// precision, graph, scenario, batch, sequence length.
export function configurationKey(r) {
  return [
    r.model_label ?? r.model,
    r.platform ?? r.hardware,
    r.device,
    r.precision,
    r.graph_variant ?? r.graph,
    r.scenario,
    r.batch_size ?? r.batch,
    r.seq_len,
  ].join('\u001f');
}

// The p50 of each configuration at each commit: commits in the order of their first run,
// one series per configuration with a value per commit (null where it was not measured; the
// median of the commit's results where it was measured more than once).
export function trendByCommit(rows) {
  const firstRun = new Map();
  for (const r of rows) {
    const seen = firstRun.get(r.commit);
    if (seen === undefined || r.started_at < seen) firstRun.set(r.commit, r.started_at);
  }
  const commits = [...firstRun.keys()].sort(
    (a, b) => firstRun.get(a).localeCompare(firstRun.get(b)) || a.localeCompare(b),
  );
  const index = new Map(commits.map((c, i) => [c, i]));
  const shown = shownDimensions(rows);
  const series = new Map();
  for (const r of rows) {
    if (r.latency_p50_ms === null || r.latency_p50_ms === undefined) continue;
    const key = configurationKey(r);
    if (!series.has(key)) {
      const label = `${seriesOf(r, shown).label} b${r.batch_size}`;
      series.set(key, { key, label, samples: commits.map(() => []) });
    }
    series.get(key).samples[index.get(r.commit)].push(r.latency_p50_ms);
  }
  const out = [...series.values()].map(({ key, label, samples }) => ({
    key,
    label,
    values: samples.map((s) => (s.length ? median(s) : null)),
  }));
  return { commits, series: out.sort((a, b) => byLabel(a, b)) };
}
