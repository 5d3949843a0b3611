"""What the Superset 6.1 frontend puts in the DOM, read by :mod:`infra.superset_page`.

Scripts run in the page through Selenium's ``execute_script``; each returns plain JSON. When a
Superset upgrade moves a marker, this is the file to change (and the harness self-test,
tests/integration/test_browser_harness.py, is what tells).

Below the fold: with the DASHBOARD_VIRTUALIZATION flag (on by default in 6.1) a dashboard row
mounts its charts only within one screen of the viewport, and a chart draws only when in view,
unless ``navigator.webdriver`` is true (Superset's ``isCurrentUserBot``, for its own screenshot
worker). A Selenium-driven Chromium reports true, so every chart renders; the driver scrolls
charts still loading into view all the same, in case a browser does not.
"""

# One look at the page. Superset 6.1 markers (from its frontend bundle, checked against the DOM):
# - a chart: .chart-slice[data-test="chart-grid-component"], with data-test-chart-id,
#   data-test-chart-name and data-test-viz-type;
# - loading: the Loading component, [data-test="loading-indicator"] (role=status), shown while
#   the query runs ("Waiting on <database>"), while the dataset is still being fetched, and for a
#   chart out of view when dashboard virtualization holds it back;
# - error: [role="alert"] in the chart (an antd Alert, e.g. "Data error", or a typed error's alert);
# - no results: the EmptyState (.ant-empty) inside the chart's [data-test="slice-container"]
#   ("No results were returned for this query"); an EmptyState outside it is a misconfigured chart
#   ("Add required control values"), an error;
# - rendered: the slice container holds drawn content (canvas, svg, table, img or text);
# - the dashboard: [data-test="grid-content"]; a loading indicator outside every chart is the page's.
SNAPSHOT_JS = """
const inChart = el => el.closest('[data-test="chart-grid-component"]');
const charts = [...document.querySelectorAll('[data-test="chart-grid-component"]')].map(el => {
  const body = el.querySelector('.dashboard-chart') || el;
  const slice = body.querySelector('[data-test="slice-container"]');
  const alert = body.querySelector('[role="alert"]');
  const empty = body.querySelector('.ant-empty');
  let state = 'pending', text = '';
  if (body.querySelector('[data-test="loading-indicator"]')) state = 'loading';
  else if (alert) { state = 'error'; text = alert.innerText; }
  else if (empty) {
    const isResult = slice && slice.contains(empty);
    state = isResult ? 'no_results' : 'error';
    text = (isResult ? slice : body).innerText;
  } else if (slice && (slice.querySelector('canvas, svg, table, img') || slice.innerText.trim())) {
    state = 'rendered';
  }
  return {id: Number(el.getAttribute('data-test-chart-id')), title: el.getAttribute('data-test-chart-name'),
          viz: el.getAttribute('data-test-viz-type'), state: state, message: text.trim(),
          text: (slice || body).innerText.trim().slice(0, 2000),
          visible: el.getClientRects().length > 0};
});
const pageLoading = [...document.querySelectorAll('[data-test="loading-indicator"]')].some(e => !inChart(e));
return {now: performance.now(), url: location.href, ready: document.readyState === 'complete',
        grid: !!document.querySelector('[data-test="grid-content"]'), pageLoading: pageLoading,
        charts: charts};
"""

# The dashboard's layout, from Superset's REST API with the browser's own session: which charts
# the dashboard shows, and under which tabs. Async: the callback is Selenium's last argument.
LAYOUT_JS = """
const done = arguments[arguments.length - 1];
const key = arguments[0];
const get = path => fetch(path, {credentials: 'same-origin'}).then(r => r.ok ? r.json() : null);
Promise.all([get('/api/v1/dashboard/' + key), get('/api/v1/dashboard/' + key + '/charts')])
  .then(([dash, charts]) => done(dash === null ? {missing: key} : {
    position: dash.result.position_json || null,
    charts: ((charts || {}).result || []).map(c => c.id)}))
  .catch(e => done({error: String(e)}));
"""

SCROLL_TO_CHART_JS = """
const el = document.querySelector(`[data-test-chart-id="${arguments[0]}"]`);
if (el) el.scrollIntoView({block: 'center'});
"""

ACTIVE_TABS_JS = """
return [...document.querySelectorAll('.ant-tabs-tab-active[data-node-key^="TAB-"]')]
  .map(e => e.getAttribute('data-node-key'));
"""

# One screen further down; false at the bottom already.
SCROLL_DOWN_JS = """
const before = window.scrollY;
window.scrollBy(0, window.innerHeight);
return window.scrollY > before;
"""
