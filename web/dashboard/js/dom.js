// Small DOM helpers: elements are made with text content only (never innerHTML), so stored
// text (model names, error messages) cannot inject markup.

// <tag attrs...>children</tag>; children: a string, a node, null (skipped) or an array of them.
export function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs))
    if (value !== undefined) node.setAttribute(name, value);
  for (const child of [children].flat())
    if (child !== null && child !== undefined) node.append(child);
  return node;
}

export function clear(node) {
  node.replaceChildren();
  return node;
}

// A table of `rows` (objects) under `columns`: [[heading, row => text], ...].
export function fillTable(table, columns, rows) {
  clear(table).append(
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        columns.map(([heading]) => el('th', {}, heading)),
      ),
    ),
    el(
      'tbody',
      {},
      rows.map((row) =>
        el(
          'tr',
          {},
          columns.map(([, value]) => {
            const v = value(row);
            return el(
              'td',
              { class: typeof v === 'number' ? 'num' : undefined },
              v === null || v === undefined ? '' : String(v),
            );
          }),
        ),
      ),
    ),
  );
}

// A number for a table: `digits` significant digits, '' for none.
export function num(value, digits = 4) {
  return value === null || value === undefined ? '' : Number(value.toPrecision(digits));
}
