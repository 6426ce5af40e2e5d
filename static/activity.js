// Activity: the latest requests (live, filterable, click one for its whole record) and charts
// of the last days: requests and tokens per day by model, cost per day, latency per model,
// error rate per day. Everything comes from /api/requests and /api/usage.

import { api } from "./api.js";
import { barChart } from "./charts.js";
import { byId, clear, el, option } from "./dom.js";

const REFRESH_MS = 5000;
const ROWS = 50;
let timer = null;
let loading = false;

const pad = (n) => String(n).padStart(2, "0");
const localDay = (date) => `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;

function tokens(n) {
  if (n >= 999500) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1000) return `${(n / 1000).toFixed(n >= 9950 ? 0 : 1)}k`;
  return String(Math.round(n));
}

const dollars = (v) => (v === null || v === undefined ? "–" : v >= 0.01 || v === 0 ? `$${v.toFixed(2)}` : `$${v.toFixed(4)}`);
const millis = (ms) => (ms === null || ms === undefined ? "–" : ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);
const percent = (v) => `${Math.round(v * 10) / 10}%`;
const modelOf = (r) => (r.provider ? `${r.provider},${r.model}` : "(not routed)");

function when(seconds) {
  const date = new Date(seconds * 1000);
  const time = `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  return localDay(date) === localDay(new Date()) ? time : `${localDay(date)} ${time}`;
}

function statusClass(status) {
  if (status === 499) return "status-left";
  return status >= 400 ? "status-error" : "status-ok";
}

// ---------------------------------------------------------------- the table

function query(params) {
  const pairs = Object.entries(params).filter(([, v]) => v !== "" && v !== null && v !== undefined);
  return pairs.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("&");
}

function showRecord(record) {
  byId("act-record-title").textContent = `Request ${record.id}`;
  byId("act-record-json").textContent = JSON.stringify(record, null, 2);
  byId("act-record").showModal();
}

function row(record) {
  const open = el("button", { type: "button", className: "link", textContent: when(record.time),
    title: "Show the whole record" });
  open.addEventListener("click", () => showRecord(record));
  const session = record.session ? record.session.slice(0, 8) : "–";
  return el("tr", { dataset: { id: record.id, status: String(record.status) } },
    el("td", {}, open),
    el("td", { title: record.session || "" }, session),
    el("td", {}, record.scenario || "–"),
    el("td", { className: "model" }, modelOf(record)),
    el("td", { className: statusClass(record.status) }, String(record.status)),
    el("td", { className: "num" }, millis(record.ttfb_ms)),
    el("td", { className: "num" }, millis(record.duration_ms)),
    el("td", { className: "num" }, tokens(record.input_tokens + record.cache_read_tokens + record.cache_creation_tokens)),
    el("td", { className: "num" }, tokens(record.output_tokens)),
    el("td", { className: "num" }, dollars(record.cost_usd)));
}

async function loadTable() {
  const params = { limit: ROWS, session: byId("act-session").value.trim(),
    provider: byId("act-provider").value, status: byId("act-status").value };
  const page = await api("GET", `/api/requests?${query(params)}`);
  const rows = clear(byId("act-rows"));
  for (const record of page.requests) rows.append(row(record));
  byId("act-count").textContent = page.requests.length
    ? `${page.requests.length} most recent request${page.requests.length === 1 ? "" : "s"} (newest first)`
    : "No requests match.";
}

// ---------------------------------------------------------------- the charts

function chartWindow() {
  const days = Number(byId("act-range").value);
  const first = new Date();
  first.setDate(first.getDate() - (days - 1));
  const categories = [];
  for (let d = new Date(first); categories.length < days; d.setDate(d.getDate() + 1)) categories.push(localDay(d));
  return { since: categories[0], utc_offset: -new Date().getTimezoneOffset(), categories };
}

function byDayAndModel(rows, categories, field) {
  const models = [...new Set(rows.map((r) => r.key[1] ?? "(not routed)"))];
  return {
    categories: categories.map((day) => day.slice(5)),
    series: models.map((name) => ({
      name,
      values: categories.map((day) => rows
        .filter((r) => r.key[0] === day && (r.key[1] ?? "(not routed)") === name)
        .reduce((sum, r) => sum + field(r), 0)),
    })),
  };
}

function perDay(rows, categories, name, field) {
  const found = new Map(rows.map((r) => [r.key, r]));
  return { categories: categories.map((day) => day.slice(5)),
    series: [{ name, values: categories.map((day) => (found.has(day) ? field(found.get(day)) : 0)) }] };
}

function fillProviders(rows) {
  const select = byId("act-provider");
  const current = select.value;
  const names = [...new Set(rows.map((r) => r.key[1]).filter(Boolean).map((m) => m.split(",")[0]))].sort();
  if (current && !names.includes(current)) names.push(current);
  clear(select).append(option("", "All"));
  for (const name of names) select.append(option(name, name, name === current));
}

async function loadCharts() {
  const { since, utc_offset: offset, categories } = chartWindow();
  const base = `since=${since}&utc_offset=${offset}`;
  const [pairs, days, models] = await Promise.all([
    api("GET", `/api/usage?group_by=day,model&${base}`),
    api("GET", `/api/usage?group_by=day&${base}`),
    api("GET", `/api/usage?group_by=model&latency=true&${base}`)]);
  fillProviders(pairs.rows);
  const plot = (id) => byId(id).querySelector(".plot");
  barChart(plot("chart-requests"), byDayAndModel(pairs.rows, categories, (r) => r.requests),
    { label: "Requests per day by model", format: (v) => String(Math.round(v)) });
  barChart(plot("chart-tokens"), byDayAndModel(pairs.rows, categories,
    (r) => r.input_tokens + r.output_tokens + r.cache_read_tokens + r.cache_creation_tokens),
  { label: "Tokens per day by model", format: tokens });
  barChart(plot("chart-cost"), perDay(days.rows, categories, "", (r) => r.cost_usd || 0),
    { label: "Cost per day", format: (v) => `$${v >= 0.01 || v === 0 ? v.toFixed(2) : v.toFixed(3)}` });
  barChart(plot("chart-errors"), perDay(days.rows, categories, "",
    (r) => (r.requests ? (100 * r.errors) / r.requests : 0)), { label: "Error rate per day", format: percent });
  const routed = models.rows.filter((r) => r.key && r.duration_p50_ms !== undefined && r.duration_p50_ms !== null);
  barChart(plot("chart-latency"), {
    categories: routed.map((r) => r.key),
    series: [{ name: "p50", values: routed.map((r) => r.duration_p50_ms) },
      { name: "p95", values: routed.map((r) => r.duration_p95_ms) }],
  }, { stacked: false, label: "Latency per model", format: millis });
  const total = days.total;
  const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
  byId("act-summary").textContent = `${plural(total.requests, "request")} · ${plural(total.errors, "error")} · `
    + `${tokens(total.input_tokens + total.cache_read_tokens + total.cache_creation_tokens)} in / `
    + `${tokens(total.output_tokens)} out · ${dollars(total.cost_usd)}`
    + (total.unpriced_requests ? ` (+ ${total.unpriced_requests} unpriced)` : "");
}

// ---------------------------------------------------------------- refreshing

async function refresh(withCharts = true) {
  if (loading) return;
  loading = true;
  try {
    await Promise.all([loadTable(), withCharts ? loadCharts() : null]);
    byId("activity-off").hidden = true;
    byId("activity-body").hidden = false;
    document.body.dataset.activity = "ready";
  } catch (error) {
    byId("activity-off").textContent = error.status === 404 ? error.message : `Cannot load the activity: ${error.message}`;
    byId("activity-off").hidden = false;
    byId("activity-body").hidden = error.status === 404;
  } finally {
    loading = false;
  }
}

function schedule() {
  clearInterval(timer);
  const live = byId("act-live").checked && !byId("panel-activity").hidden;
  timer = live ? setInterval(() => { if (!document.hidden) refresh(); }, REFRESH_MS) : null;
}

export function showActivity() {
  refresh();
  schedule();
}

export function hideActivity() {
  clearInterval(timer);
  timer = null;
}

export function initActivity() {
  for (const id of ["act-provider", "act-status"]) byId(id).addEventListener("change", () => refresh(false));
  byId("act-session").addEventListener("change", () => refresh(false));
  byId("act-range").addEventListener("change", () => refresh());
  byId("act-refresh").addEventListener("click", () => refresh());
  byId("act-live").addEventListener("change", schedule);
  byId("act-record-close").addEventListener("click", () => byId("act-record").close());
}
