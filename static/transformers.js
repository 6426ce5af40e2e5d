// Transformers: the built-ins and loaded plugins (/api/transformers), and the plugin files.

import { byId, clear, el } from "./dom.js";
import { state } from "./state.js";

export function renderTransformers() {
  const rows = clear(byId("transformers-rows"));
  for (const t of state.transformers) {
    rows.append(el("tr", { dataset: { transformer: t.name } },
      el("td", { className: "name" }, t.name),
      el("td", { className: "description" }, t.description || "—"),
      el("td", {}, t.endpoint ? `${t.endpoint} (endpoint)` : "—")));
  }
  const files = clear(byId("plugin-files"));
  const plugins = state.config && Array.isArray(state.config.transformers) ? state.config.transformers : [];
  for (const plugin of plugins) {
    const path = plugin && typeof plugin.path === "string" ? plugin.path : JSON.stringify(plugin);
    files.append(el("li", {}, el("code", {}, path)));
  }
  if (!plugins.length) files.append(el("li", { className: "hint" }, "No plugin files configured."));
}
