// The hardware view: every stored platform with its details, and the hardware report (per
// platform, device and model: results, best throughput, best and median p50), as `report
// hardware` prints it.

import { getAll, getJson } from './api.js';
import { fillTable } from './dom.js';

// The details object in a few words: its scalar fields, nested objects left to the API.
function detailsText(details) {
  if (!details || typeof details !== 'object') return '';
  return Object.entries(details)
    .filter(([, v]) => v !== null && typeof v !== 'object')
    .map(([k, v]) => `${k}: ${v}`)
    .join('; ');
}

export async function showHardware() {
  const [hardware, report] = await Promise.all([
    getAll('/api/hardware'),
    getJson('/api/reports/hardware'),
  ]);
  fillTable(
    document.getElementById('hardware-table'),
    [
      ['platform', (h) => h.platform],
      ['device', (h) => h.device],
      ['host', (h) => h.host],
      ['results', (h) => h.results],
      ['details', (h) => detailsText(h.details)],
    ],
    hardware,
  );
  const { columns, rows } = report.table;
  fillTable(
    document.getElementById('hardware-report'),
    columns.map((c) => [c.name, (row) => row[c.name]]),
    rows,
  );
  return hardware;
}
