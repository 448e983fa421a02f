// The server's read API (described at /openapi.json). Every call answers parsed JSON or throws
// an ApiError carrying the server's one-line message.

export class ApiError extends Error {}

// `params` without empty values, as a query string ("" when none is left).
export function queryString(params = {}) {
  const q = new URLSearchParams();
  for (const [name, value] of Object.entries(params))
    if (value !== undefined && value !== null && value !== '') q.set(name, String(value));
  const text = q.toString();
  return text ? `?${text}` : '';
}

export async function getJson(path, params = {}) {
  const url = path + queryString(params);
  const response = await fetch(url, { headers: { Accept: 'application/json' } });
  const body = await response.json().catch(() => null);
  if (!response.ok)
    throw new ApiError(body?.error ?? `${url}: HTTP ${response.status} ${response.statusText}`);
  return body;
}

// The items of a paged list endpoint, page after page, up to `max` of them.
export async function getAll(path, params = {}, max = 20000) {
  const limit = 10000; // the server's largest page
  const items = [];
  for (let offset = 0; items.length < max; offset += limit) {
    const page = await getJson(path, { ...params, limit, offset });
    items.push(...page.items);
    if (offset + limit >= page.total) break;
  }
  return items.slice(0, max);
}
