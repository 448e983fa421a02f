// Checks the dashboard in headless Chromium against what tests/server/dashboard_test.cpp
// expects of the database it served: playwright-core (--playwright: its node_modules folder)
// drives the browser at --chromium. Prints a line per check; exit 1 when any failed.
//
//   node dashboard_check.mjs --url http://127.0.0.1:PORT/dashboard --expect expected.json \
//     --chromium /usr/lib/chromium/chromium --playwright .../playwright/node_modules

import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string' },
    expect: { type: 'string' },
    chromium: { type: 'string' },
    playwright: { type: 'string' },
  },
});
const expected = JSON.parse(readFileSync(args.expect, 'utf8'));
const { chromium } = createRequire(import.meta.url)(`${args.playwright}/playwright-core`);

// JSON text with object keys sorted, so two values compare by content, not key order.
function canonical(value) {
  return JSON.stringify(value, (_, v) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

const failures = [];
const started = Date.now();
function same(actual, wanted, what) {
  const ok = canonical(actual) === canonical(wanted);
  if (!ok) failures.push(what);
  const at = `(${((Date.now() - started) / 1000).toFixed(1)} s)`;
  console.log(
    ok
      ? `ok   ${what} ${at}`
      : `FAIL ${what} ${at}\n  got:      ${JSON.stringify(actual)}\n` +
          `  expected: ${JSON.stringify(wanted)}`,
  );
}

// Waits until the page has drawn everything for the URL it is at.
async function ready(page, search = '') {
  await page.waitForFunction(
    (s) => document.body.dataset.state === 'ready' && window.location.search === s,
    search,
    { timeout: 15000 },
  );
}

// {series name: number of points} of the chart in element `id`, sorted by name.
function points(page, id) {
  return page.evaluate((id) => {
    const series = window.dashboard.charts()[id].getOption().series;
    return Object.fromEntries(series.map((s) => [s.name, s.data.length]).sort());
  }, id);
}

function trend(page) {
  return page.evaluate(() => {
    const option = window.dashboard.charts()['trend-chart'].getOption();
    const marks = option.series.flatMap((s) =>
      (s.markPoint?.data ?? []).map((m) => `${s.name} @ ${m.coord[0]}`),
    );
    return { commits: option.xAxis[0].data.length, series: option.series.length, marks };
  });
}

// Each matrix row on the page: the texts of its cells ("summary [1][2]" where it has notes).
function matrixRows(page) {
  return page.evaluate(() =>
    [...document.querySelectorAll('#matrix-tables table')].flatMap((table) =>
      [...table.tBodies[0].rows].map((row) =>
        [...row.cells].map((cell) => {
          const summary = cell.querySelector('.summary');
          if (!summary) return cell.textContent;
          const refs = cell.querySelector('.refs')?.textContent;
          return refs ? `${summary.textContent} ${refs}` : summary.textContent;
        }),
      ),
    ),
  );
}

// The body rows of `matrix`'s Markdown tables, cells unescaped.
function markdownRows(markdown) {
  return markdown
    .split('\n')
    .filter(
      (line) =>
        line.startsWith('| ') && !/^\| (Model|Family) \|/.test(line) && !line.startsWith('| --- |'),
    )
    .map((line) =>
      line
        .slice(2, -2)
        .split(/(?<!\\) \| /)
        .map((cell) => cell.replace(/\\(.)/g, '$1')),
    );
}

async function checkMatrix(page) {
  const m = expected.matrix;
  const rows = await matrixRows(page);
  const headers = await page.evaluate(() =>
    [...document.querySelectorAll('#matrix-tables thead tr')].map((tr) =>
      [...tr.cells].slice(1).map((c) => c.textContent),
    ),
  );
  same(
    headers,
    headers.map(() => m.columns.map((c) => c.title)),
    'matrix columns are those of `matrix --json`',
  );
  same(
    rows.map((r) => r.slice(1).map((text) => text.replace(/ \[[\d\]\[]+\]$/, ''))),
    m.rows.map((row) => m.columns.map((c) => row.cells[c.title].summary)),
    'matrix cells are the summaries of `matrix --json`',
  );
  same(
    rows,
    markdownRows(expected.markdown),
    'matrix rows, labels and footnote marks are those of `matrix`',
  );
  const notes = await page.evaluate(() =>
    [...document.querySelectorAll('#matrix-notes li')].map((li) => li.textContent),
  );
  same(notes, expected.footnotes, 'matrix footnotes are those of `matrix`');
}

// Asks the recommender the test's question; its table's hardware, figure kind and p50.
async function checkRecommender(page) {
  const q = expected.recommend;
  await page.selectOption('#recommend-form [name=model]', q.model);
  await page.fill('#recommend-form [name=batch_size]', q.batch_size);
  await page.fill('#recommend-form [name=seq_len]', q.seq_len);
  await page.click('#recommend-form button[type=submit]');
  await page.waitForFunction(
    () => document.getElementById('recommend').dataset.state === 'ready',
    null,
    { timeout: 15000 },
  );
  const rows = await page.evaluate(() =>
    [...document.querySelectorAll('#recommend-table tbody tr')].map((tr) =>
      [...tr.cells].slice(1, 4).map((c) => c.textContent),
    ),
  );
  same(
    rows,
    expected.select.ranked.map((r) => [
      r.hardware,
      r.origin,
      String(Number(r.latency_ms.toPrecision(4))),
    ]),
    'the recommender ranks the hardware as `select --json` does',
  );
}

const browser = await chromium.launch({
  executablePath: args.chromium,
  args: [
    '--no-sandbox',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors = [];
  const origin = new URL(args.url).origin;
  page.on('console', (m) => m.type() === 'error' && errors.push(`console: ${m.text()}`));
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()}`));
  page.on('request', (r) => {
    if (!r.url().startsWith(origin) && !r.url().startsWith('data:'))
      errors.push(`request elsewhere: ${r.url()}`);
  });

  await page.goto(args.url);
  await ready(page);
  same(
    await page.textContent('#results-count'),
    `(${expected.results_total})`,
    'the results explorer counts every stored result',
  );
  same(
    await points(page, 'latency-chart'),
    expected.latency_points,
    'latency chart: a point per configuration and batch',
  );
  same(
    await points(page, 'throughput-chart'),
    expected.latency_points,
    'throughput chart: a bar per configuration and batch',
  );
  same(await trend(page), expected.trend, 'trend chart: commits, series and the regression marker');
  await checkMatrix(page);
  await checkRecommender(page);
  await page.screenshot({ path: expected.screenshot, fullPage: true });

  const { name, value } = expected.filter;
  await page.selectOption(`#filters [name=${name}]`, value);
  await ready(page, `?${name}=${value}`);
  same(
    await points(page, 'latency-chart'),
    expected.filter.latency_points,
    `latency chart after ${name}=${value}`,
  );
  await page.reload();
  await ready(page, `?${name}=${value}`);
  same(await page.inputValue(`#filters [name=${name}]`), value, 'a reload keeps the filter');
  same(
    await points(page, 'latency-chart'),
    expected.filter.latency_points,
    'a reload draws the filtered chart',
  );

  same(errors, [], 'no console errors, failed requests or requests elsewhere');
} finally {
  await browser.close();
}
process.exit(failures.length ? 1 : 0);
