// The ECharts charts: latency against batch size, throughput by batch size, and the trend over
// commits. Each draw replaces the chart's whole option, so nothing of a previous filter stays.

import * as echarts from '/vendor/echarts/echarts.esm.min.js';

const charts = new Map(); // element id -> ECharts instance

// The chart in the element with this id, made on first use.
export function chartIn(id) {
  if (!charts.has(id)) {
    const chart = echarts.init(document.getElementById(id), null, { renderer: 'canvas' });
    charts.set(id, chart);
    window.addEventListener('resize', () => chart.resize());
  }
  return charts.get(id);
}

// Every chart by its element id (the dashboard test reads their options through this).
export function allCharts() {
  return Object.fromEntries(charts);
}

function base(title, empty) {
  return {
    title: { text: title, left: 'center', textStyle: { fontSize: 14 } },
    tooltip: { trigger: 'item' },
    legend: { type: 'scroll', bottom: 0 },
    grid: { left: 60, right: 24, top: 48, bottom: 64 },
    graphic: empty
      ? [
          {
            type: 'text',
            left: 'center',
            top: 'middle',
            style: { text: 'no results for these filters', fill: '#888' },
          },
        ]
      : [],
  };
}

// Latency p50 against batch size: a line per series (series.js), x on a log-2 axis.
export function drawLatency(id, series) {
  chartIn(id).setOption(
    {
      ...base('Latency p50 (ms) by batch size', series.length === 0),
      xAxis: {
        type: 'log',
        logBase: 2,
        name: 'batch',
        nameLocation: 'middle',
        nameGap: 28,
        minorSplitLine: { show: false },
      },
      yAxis: { type: 'value', name: 'ms', scale: true },
      series: series.map((s) => ({ name: s.label, type: 'line', symbolSize: 8, data: s.points })),
    },
    { notMerge: true },
  );
}

// Throughput (items/s) by batch size: a bar per series at each batch measured.
export function drawThroughput(id, series) {
  const batches = [...new Set(series.flatMap((s) => s.points.map(([b]) => b)))].sort(
    (a, b) => a - b,
  );
  chartIn(id).setOption(
    {
      ...base('Throughput (items/s) by batch size', series.length === 0),
      xAxis: {
        type: 'category',
        name: 'batch',
        nameLocation: 'middle',
        nameGap: 28,
        data: batches.map(String),
      },
      yAxis: { type: 'value', name: 'items/s' },
      series: series.map((s) => ({
        name: s.label,
        type: 'bar',
        // [category index, value] pairs: a series has points only where it was measured.
        data: s.points.map(([b, y]) => [batches.indexOf(b), y]),
      })),
    },
    { notMerge: true },
  );
}

// p50 per configuration over commits; `marks` maps a series key to the commit indexes where
// /api/compare found a regression against the commit before, drawn as red pins.
export function drawTrend(id, trend, marks) {
  chartIn(id).setOption(
    {
      ...base('Latency p50 (ms) over commits, oldest first', trend.series.length === 0),
      tooltip: { trigger: 'axis' },
      xAxis: {
        type: 'category',
        name: 'commit',
        nameLocation: 'middle',
        nameGap: 28,
        data: trend.commits.map((c) => c.slice(0, 12)),
      },
      yAxis: { type: 'value', name: 'ms', scale: true },
      series: trend.series.map((s) => ({
        name: s.label,
        type: 'line',
        connectNulls: true,
        symbolSize: 7,
        data: s.values,
        markPoint: {
          symbolSize: 36,
          itemStyle: { color: '#c0392b' },
          label: { formatter: '!' },
          data: (marks.get(s.key) ?? []).map((i) => ({
            name: 'regression',
            coord: [i, s.values[i]],
          })),
        },
      })),
    },
    { notMerge: true },
  );
}
