// Logs: pick a file, read its last lines (newest last) as columns (time, level, event, request
// id, provider/model, status), filter by level and text or by one request, follow new lines,
// clear it.

import { api } from "./api.js";
import { byId, clear, el, notify, option } from "./dom.js";

const LINES = 1000;
// pino numbers (CCR's logs) and level names (ours) on one scale.
const RANKS = { trace: 10, debug: 20, info: 30, warn: 40, warning: 40, error: 50, fatal: 60, critical: 60 };
const NAMES = { 10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal" };
const FOLLOW_MS = 2000;
const SHOWN_ELSEWHERE = new Set(["time", "level", "event", "msg", "request_id", "reqId", "requestId", "provider",
  "model", "status", "statusCode", "status_code", "pid", "hostname", "logger"]);
let entries = []; // [{text, rank, label, fields}]
let onlyRequest = ""; // a request id clicked: only its lines

function parsed(line) {
  if (!line.startsWith("{")) return null;
  try {
    const value = JSON.parse(line);
    return value && typeof value === "object" && !Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}

const first = (fields, ...names) => {
  for (const name of names) if (fields[name] !== undefined && fields[name] !== null) return fields[name];
  return "";
};

/** A line's columns; a line that is not a JSON object shows its text as the event. */
function columns(entry) {
  const f = entry.fields;
  if (!f) return { time: "", event: entry.text, request: "", route: "", status: "", extra: "" };
  const provider = first(f, "provider");
  const model = first(f, "model");
  const time = String(first(f, "time"));
  const extra = Object.entries(f).filter(([k]) => !SHOWN_ELSEWHERE.has(k))
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`).join(" ");
  return { time: time.replace("T", " ").replace(/\.\d+Z?$|Z$/, ""), event: String(first(f, "event", "msg")),
    request: String(first(f, "request_id", "reqId", "requestId")),
    route: [provider, model].filter((x) => x !== "").join(","), status: String(first(f, "status", "statusCode", "status_code")), extra };
}

function levelOf(line) {
  const fields = parsed(line);
  const level = fields ? fields.level : undefined;
  if (!fields) return { rank: 0, label: "" };
  if (typeof level === "number") return { rank: level, label: NAMES[level] || String(level) };
  if (typeof level === "string" && RANKS[level.toLowerCase()]) {
    return { rank: RANKS[level.toLowerCase()], label: level.toLowerCase() };
  }
  return { rank: 0, label: "" };
}

function size(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function render() {
  const minimum = Number(byId("log-level").value);
  const needle = byId("log-filter").value.trim().toLowerCase();
  const list = clear(byId("log-lines"));
  let shown = 0;
  for (const entry of entries) {
    if (minimum && entry.rank < minimum) continue;
    if (needle && !entry.text.toLowerCase().includes(needle)) continue;
    const c = columns(entry);
    if (onlyRequest && c.request !== onlyRequest) continue;
    shown += 1;
    const badge = el("span", { className: `col-level level level-${NAMES[Math.floor(entry.rank / 10) * 10] || "none"}` },
      entry.label || "–");
    const request = c.request ? el("button", { type: "button", className: "linkish", textContent: c.request }) : "";
    if (request) {
      request.setAttribute("aria-label", `Show every line of request ${c.request}`);
      request.addEventListener("click", () => showRequest(c.request));
    }
    list.append(el("li", { dataset: { level: entry.label } },
      el("span", { className: "col-time" }, c.time), badge,
      el("span", { className: "col-event text" }, c.event, c.extra ? el("span", { className: "extra" }, ` ${c.extra}`) : null),
      el("span", { className: "col-request" }, request), el("span", { className: "col-route" }, c.route),
      el("span", { className: "col-status" }, c.status)));
  }
  byId("log-request").hidden = !onlyRequest;
  byId("log-request-id").textContent = onlyRequest;
  byId("log-count").textContent = entries.length
    ? `${shown} of ${entries.length} lines shown (newest last)` : "This file has no lines.";
  list.scrollTop = list.scrollHeight;
}

async function loadLines() {
  const file = byId("log-file").value;
  entries = [];
  if (file) {
    try {
      const lines = await api("GET", `/api/logs?file=${encodeURIComponent(file)}&lines=${LINES}`);
      entries = lines.map((text) => ({ text, fields: parsed(text), ...levelOf(text) }));
    } catch (error) {
      notify(`Cannot read the log: ${error.message}`, "error");
    }
  }
  render();
}

/** Reload the list of files (keeping the one picked if it is still there), then its lines. */
export async function showLogs() {
  const select = byId("log-file");
  const current = select.value;
  let files = [];
  try {
    files = await api("GET", "/api/logs/files");
  } catch (error) {
    notify(`Cannot list the log files: ${error.message}`, "error");
  }
  clear(select);
  for (const f of files) {
    const when = new Date(f.lastModified).toLocaleString();
    select.append(option(f.path, `${f.name} (${size(f.size)}, ${when})`, f.path === current));
  }
  if (!files.length) select.append(option("", "(no log files yet)"));
  byId("log-clear").disabled = !files.length;
  await loadLines();
}

async function clearFile() {
  const select = byId("log-file");
  const name = select.selectedOptions[0]?.textContent || select.value;
  if (!select.value || !window.confirm(`Clear ${name}? Its lines are deleted for good.`)) return;
  try {
    await api("DELETE", `/api/logs?file=${encodeURIComponent(select.value)}`);
    notify("Log file cleared.", "ok");
  } catch (error) {
    notify(`Not cleared: ${error.message}`, "error");
  }
  await showLogs();
}

function showRequest(id) {
  onlyRequest = id;
  render();
}

/** Follow: reload the file's lines every FOLLOW_MS while the tab is open and the box ticked. */
function follow() {
  if (byId("log-follow").checked && !byId("panel-logs").hidden && !document.hidden) loadLines();
}

export function initLogs() {
  byId("log-request-all").addEventListener("click", () => showRequest(""));
  setInterval(follow, FOLLOW_MS);
  byId("log-file").addEventListener("change", loadLines);
  byId("log-refresh").addEventListener("click", showLogs);
  byId("log-level").addEventListener("change", render);
  byId("log-filter").addEventListener("input", render);
  byId("log-clear").addEventListener("click", clearFile);
}
