// DocsPage (openapi.h): /docs renders /openapi.json with a few lines of inline script; the page
// loads nothing from anywhere else.

#include "ipfs_accel/server/openapi.h"

namespace ipfs_accel::server {

namespace {

constexpr const char* kPage = R"html(<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>@TITLE@ API</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:60em;padding:0 1em;color:#222}
h1{font-size:1.5em} h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ddd}
.op{border:1px solid #ddd;border-radius:6px;margin:.8em 0;padding:.5em .8em}
.m{display:inline-block;min-width:4.5em;font-weight:600;font-family:monospace}
.GET{color:#0a6}.POST{color:#06c}.PUT{color:#a60}.DELETE{color:#c22}
code,pre{font-family:ui-monospace,monospace;font-size:13px}
pre{background:#f6f6f6;padding:.5em;overflow:auto;max-height:20em}
table{border-collapse:collapse;margin:.4em 0} td,th{border:1px solid #ddd;padding:2px 6px;text-align:left}
.lock{color:#a60}
</style></head>
<body><h1>@TITLE@ API</h1><p id="info">Loading <a href="/openapi.json">/openapi.json</a>…</p>
<div id="ops"></div>
<script>
const esc = s => String(s).replace(/[&<>"']/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]));
function paramRows(ps) {
  if (!ps || !ps.length) return '';
  const rows = ps.map(p => {
    const s = p.schema || {};
    const extra = [s.enum ? 'one of ' + s.enum.join(', ') : '', s.minimum !== undefined ? 'min ' + s.minimum : '',
                   s.maximum !== undefined ? 'max ' + s.maximum : '', s.default !== undefined ? 'default ' + s.default : '']
                  .filter(Boolean).join('; ');
    return `<tr><td><code>${esc(p.name)}</code></td><td>${esc(p.in)}</td><td>${esc(s.type || '')}</td>` +
           `<td>${p.required ? 'yes' : ''}</td><td>${esc(p.description || '')} ${esc(extra)}</td></tr>`;
  }).join('');
  return `<table><tr><th>parameter</th><th>in</th><th>type</th><th>required</th><th>about</th></tr>${rows}</table>`;
}
function schemaBlock(title, content) {
  if (!content) return '';
  return Object.entries(content).map(([type, media]) => media.schema ?
    `<details><summary>${esc(title)} (${esc(type)})</summary><pre>${esc(JSON.stringify(media.schema, null, 2))}</pre></details>` : '').join('');
}
fetch('/openapi.json').then(r => r.json()).then(doc => {
  document.getElementById('info').innerHTML = `${esc(doc.info.description || '')} Version ${esc(doc.info.version)}. ` +
    `The document: <a href="/openapi.json">/openapi.json</a> (OpenAPI ${esc(doc.openapi)}).`;
  const byTag = {};
  for (const [path, item] of Object.entries(doc.paths)) for (const [method, op] of Object.entries(item)) {
    (byTag[(op.tags || ['other'])[0]] ||= []).push({path, method: method.toUpperCase(), op});
  }
  let html = '';
  for (const [tag, ops] of Object.entries(byTag)) {
    html += `<h2>${esc(tag)}</h2>`;
    for (const {path, method, op} of ops) {
      const ok = Object.entries(op.responses).find(([s]) => s < 300);
      const errors = Object.keys(op.responses).filter(s => s >= 400).join(', ');
      html += `<div class="op"><span class="m ${method}">${method}</span> <code>${esc(path)}</code> ` +
        `${op.security ? '<span class="lock" title="needs the bearer token">🔒</span>' : ''} — ${esc(op.summary)}` +
        `${op.description ? `<p>${esc(op.description)}</p>` : ''}${paramRows(op.parameters)}` +
        `${op.requestBody ? schemaBlock('request body', op.requestBody.content) : ''}` +
        `${ok ? schemaBlock('response ' + ok[0], ok[1].content) : ''}<div>errors: ${esc(errors)}</div></div>`;
    }
  }
  document.getElementById('ops').innerHTML = html;
}).catch(e => { document.getElementById('info').textContent = 'Could not load /openapi.json: ' + e; });
</script></body></html>
)html";

}  // namespace

std::string DocsPage(const std::string& title) {
  std::string page = kPage;
  std::string escaped;
  for (char c : title) {
    if (c == '<')
      escaped += "&lt;";
    else if (c == '>')
      escaped += "&gt;";
    else if (c == '&')
      escaped += "&amp;";
    else
      escaped += c;
  }
  for (size_t at; (at = page.find("@TITLE@")) != std::string::npos;) page.replace(at, 7, escaped);
  return page;
}

}  // namespace ipfs_accel::server
