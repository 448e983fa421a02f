// The filters live in the page's URL (?model=...&platform=...), so a link shows what its
// sender saw and a reload restores it. The form mirrors the URL, never the other way round.

export const FILTER_NAMES = ['model', 'platform', 'precision', 'batch', 'scenario', 'from', 'to'];

// The filters in `search` ("?platform=cpu"), only the known names with a value.
export function filtersFromSearch(search) {
  const q = new URLSearchParams(search);
  const out = {};
  for (const name of FILTER_NAMES) if (q.get(name)) out[name] = q.get(name);
  return out;
}

export function searchFromFilters(filters) {
  const q = new URLSearchParams();
  for (const name of FILTER_NAMES) if (filters[name]) q.set(name, filters[name]);
  const text = q.toString();
  return text ? `?${text}` : '';
}

// Replaces the options of a <select> after its first ("any") one, keeping its value.
export function setOptions(select, values, labels = new Map()) {
  const keep = select.value;
  select.length = 1;
  for (const value of values) select.add(new Option(labels.get(value) ?? value, value));
  selectValue(select, keep);
}

// A value the URL asks for that is not among the options is added, so the form never
// silently drops a filter.
function selectValue(select, value) {
  if (value && ![...select.options].some((o) => o.value === value))
    select.add(new Option(value, value));
  select.value = value;
}

export function writeForm(form, filters) {
  for (const name of FILTER_NAMES) {
    const element = form.elements[name];
    if (element.tagName === 'SELECT') selectValue(element, filters[name] ?? '');
    else element.value = filters[name] ?? '';
  }
}

function readForm(form) {
  const out = {};
  for (const name of FILTER_NAMES)
    if (form.elements[name].value) out[name] = form.elements[name].value;
  return out;
}

// Calls `onChange(filters)` once now and after every change: of the form (the URL is pushed),
// or of the URL by the browser's back and forward buttons (the form follows).
export function bindFilters(form, onChange) {
  const apply = () => {
    const filters = filtersFromSearch(window.location.search);
    writeForm(form, filters);
    onChange(filters);
  };
  const push = () => {
    const search = searchFromFilters(readForm(form));
    if (search !== window.location.search)
      history.pushState(null, '', window.location.pathname + search + window.location.hash);
    apply();
  };
  form.addEventListener('change', push);
  form.addEventListener('reset', () => setTimeout(push));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    push();
  });
  window.addEventListener('popstate', apply);
  apply();
}
