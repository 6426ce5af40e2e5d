// Logs: pick a file, read its last lines (newest last), filter by level and text, clear it.

import { api } from "./api.js";
import { byId, clear, el, notify, option } from "./dom.js";

const LINES = 1000;
// pino numbers (CCR's logs) and level names (ours) on one scale.
const RANKS = { trace: 10, debug: 20, info: 30, warn: 40, warning: 40, error: 50, fatal: 60, critical: 60 };
const NAMES = { 10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal" };
let entries = []; // [{text, rank, label}]

function levelOf(line) {
  if (!line.startsWith("{")) return { rank: 0, label: "" };
  let level;
  try {
    level = JSON.parse(line).level;
  } catch {
    return { rank: 0, label: "" };
  }
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
    shown += 1;
    const badge = el("span", { className: `level level-${NAMES[Math.floor(entry.rank / 10) * 10] || "none"}` },
      entry.label || "–");
    list.append(el("li", { dataset: { level: entry.label } }, badge, " ", el("span", { className: "text" }, entry.text)));
  }
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
      entries = lines.map((text) => ({ text, ...levelOf(text) }));
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

export function initLogs() {
  byId("log-file").addEventListener("change", loadLines);
  byId("log-refresh").addEventListener("click", showLogs);
  byId("log-level").addEventListener("change", render);
  byId("log-filter").addEventListener("input", render);
  byId("log-clear").addEventListener("click", clearFile);
}
