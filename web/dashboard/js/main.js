// The dashboard: fills the filter choices and draws the views that do not depend on the
// filters (matrix, hardware) once, and every filtered view whenever the filters (the URL) change.
// document.body.dataset.state says "loading", "ready" or "error" (the dashboard test waits on it).

import { getAll, getJson } from './api.js';
import { bindFilters, setOptions } from './filters.js';
import { allCharts, drawLatency, drawThroughput } from './charts.js';
import { seriesByBatch } from './series.js';
import { showTrend } from './trend.js';
import { showMatrix } from './matrix.js';
import { showHardware } from './hardware.js';
import { PAGE_SIZE, showResults } from './results_table.js';
import { bindRecommender, setRecommendModels } from './recommend.js';

const CHART_ROWS = 10000; // one page of the API: the newest results the charts draw

const form = document.getElementById('filters');
const status = document.getElementById('status');
let current = {};
let offset = 0;
let generation = 0; // a newer filter change wins over a slower older one

function setState(state, message = '') {
  document.body.dataset.state = state;
  status.textContent = message;
  status.className = state === 'error' ? 'error' : '';
}

async function fillChoices() {
  const [models, hardware] = await Promise.all([getAll('/api/models'), getAll('/api/hardware')]);
  const measured = models.filter((m) => m.results > 0);
  setOptions(
    form.elements.model,
    measured.map((m) => m.label),
  );
  setOptions(form.elements.platform, [...new Set(hardware.map((h) => h.platform))].sort());
  setRecommendModels(models);
}

async function drawCharts(filters) {
  const [latest, all] = await Promise.all([
    getJson('/api/results', { ...filters, latest: true, limit: CHART_ROWS }),
    getJson('/api/results', { ...filters, limit: CHART_ROWS }),
  ]);
  const models = new Set(latest.items.map((r) => r.model_label)).size;
  const cut = latest.total > CHART_ROWS ? ` (the newest ${CHART_ROWS} of ${latest.total})` : '';
  const many = models > 1 ? `, ${models} models: choose one to compare fewer lines` : '';
  document.getElementById('charts-note').textContent =
    `The latest result of each configuration${cut}${many}.`;
  drawLatency('latency-chart', seriesByBatch(latest.items, 'latency_p50_ms'));
  drawThroughput('throughput-chart', seriesByBatch(latest.items, 'throughput_items_per_s'));
  await showTrend(all.items, filters, document.getElementById('trend-note'));
}

let statics = Promise.resolve(); // the views that do not depend on the filters

async function refresh(filters) {
  const mine = ++generation;
  current = filters;
  offset = 0;
  setState('loading', 'loading…');
  try {
    await Promise.all([showResults(filters, 0), drawCharts(filters), statics]);
    if (mine === generation) setState('ready');
  } catch (error) {
    if (mine === generation) setState('error', error.message);
  }
}

async function turnPage(step) {
  offset = Math.max(0, offset + step * PAGE_SIZE);
  try {
    await showResults(current, offset);
  } catch (error) {
    setState('error', error.message);
  }
}

function start() {
  setState('loading', 'loading…');
  document.getElementById('prev-page').addEventListener('click', () => turnPage(-1));
  document.getElementById('next-page').addEventListener('click', () => turnPage(1));
  window.dashboard = { charts: allCharts }; // for the dashboard test and the browser console
  bindRecommender();
  statics = Promise.all([fillChoices(), getJson('/api/matrix').then(showMatrix), showHardware()]);
  bindFilters(form, refresh);
}

start();
