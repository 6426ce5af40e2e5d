// Provider health (GET /api/providers/health) as small badges in the Providers tab: one per
// provider, per model and per pooled key (ok / cooling / disabled). Refreshed on load, with the
// "Refresh status" button, and every REFRESH_MS while the Providers tab is in view.

import { api } from "./api.js";
import { byId, el } from "./dom.js";

const REFRESH_MS = 15000;
let report = null; // {name (lower-cased) → provider entry} of the last answer; null: none yet
let onUpdate = () => {};

/** A model's or key's state as a short text: "ok", "cooling 12 s", "disabled". */
function stateText(entry) {
  if (entry.state === "cooling") return `cooling ${Math.max(1, Math.ceil(entry.seconds_left ?? 0))} s`;
  return entry.state;
}

function details(entry) {
  const parts = [];
  if (entry.state === "cooling" && entry.until_iso) parts.push(`until ${entry.until_iso}`);
  if (entry.last_error) parts.push(`last error: ${entry.last_error}`);
  if (entry.consecutive_failures) parts.push(`${entry.consecutive_failures} failure(s) in a row`);
  return parts.join("; ");
}

function badge(state, text, title = "") {
  const node = el("span", { className: `badge state-${state}`, textContent: text });
  if (title) node.title = title;
  return node;
}

/** "ok" when everything is; "down" when no model or no key can be used; else "degraded". */
function providerState(entry) {
  const usable = (items) => items.length === 0 || items.some((item) => item.state === "ok");
  const all = [...entry.models, ...entry.keys];
  if (all.every((item) => item.state === "ok")) return "ok";
  return usable(entry.models) && usable(entry.keys) ? "degraded" : "down";
}

/** The status cell's content for a provider of the draft (its health, once known). */
export function healthCell(name) {
  const entry = report && report.get(String(name).toLowerCase());
  if (!entry) return [badge("unknown", report ? "not running" : "…", report ? "Not in the running config: save first" : "")];
  const state = providerState(entry);
  const items = [
    ...entry.models.map((m) => el("li", { dataset: { model: m.model } }, `${m.model} `, badge(m.state, stateText(m), details(m)))),
    ...entry.keys.map((k) => el("li", { dataset: { key: String(k.index) } }, `key #${k.index} `, badge(k.state, stateText(k), details(k)))),
  ];
  return [badge(state, state, `Provider ${entry.name}: ${state}`), el("ul", { className: "health-list" }, ...items)];
}

export async function refreshHealth() {
  try {
    const answer = await api("GET", "/api/providers/health");
    report = new Map((answer.providers || []).map((p) => [String(p.name).toLowerCase(), p]));
  } catch {
    report = report || new Map(); // not shown as an error: the config itself still loads
  }
  onUpdate();
}

export function initHealth(render) {
  onUpdate = render;
  byId("health-refresh").addEventListener("click", refreshHealth);
  setInterval(() => {
    if (!document.hidden && !byId("panel-providers").hidden) refreshHealth();
  }, REFRESH_MS);
}
