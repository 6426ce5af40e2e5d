// Providers: the list (keys masked), and the add / edit form. Edits change the draft only.

import { chainEditor } from "./chain.js";
import { byId, clear, el, notify, option } from "./dom.js";
import { healthCell, initHealth, refreshHealth } from "./health.js";
import { probeControls } from "./probe.js";
import { chainEntryText, changed, providersOf, routerOf, state } from "./state.js";

const ENV_REF = /^\$\{?[A-Za-z_][A-Za-z0-9_]*\}?$/;
let editing = null; // index in Providers being edited, or -1 when adding
let chains = null; // {all, perModel: Map(model → {editor, fieldset})} of the open form

const isSecret = (key) => typeof key === "string" && key !== "" && !ENV_REF.test(key);

/** What the list shows for a key (or each key of a pool): `$VAR` references as written, real keys never. */
export function maskKey(key) {
  if (Array.isArray(key)) return key.length ? key.map(maskKey).join(", ") : "(none)";
  if (key === undefined || key === null || key === "") return "(none)";
  if (typeof key !== "string") return "(invalid)";
  if (ENV_REF.test(key) || key.includes("…")) return key; // a reference, or masked by the server already
  // The server's rule (config_mask.py): first three and last four characters of a long key.
  if (key.length >= 12) return `${key.slice(0, 3)}…${key.slice(-4)}`;
  return key.length >= 8 ? `…${key.slice(-2)}` : "…";
}

function urlOf(provider) {
  return provider.api_base_url ?? provider.baseUrl ?? provider.baseurl ?? "";
}

function chainsText(transformer) {
  if (!transformer || typeof transformer !== "object") return "";
  const parts = [];
  for (const [key, spec] of Object.entries(transformer)) {
    const use = key === "use" ? spec : spec && spec.use;
    if (!Array.isArray(use) || use.length === 0) continue;
    const text = use.map(chainEntryText).join(" → ");
    parts.push(key === "use" ? text : `${key}: ${text}`);
  }
  return parts.join("; ");
}

export function renderProviders() {
  const rows = clear(byId("providers-rows"));
  const providers = state.config ? providersOf(state.config) : [];
  providers.forEach((provider, index) => {
    const name = String(provider?.name ?? "");
    const edit = el("button", { type: "button", textContent: "Edit", dataset: { index } });
    const remove = el("button", { type: "button", className: "danger", textContent: "Delete", dataset: { index } });
    edit.setAttribute("aria-label", `Edit provider ${name}`);
    remove.setAttribute("aria-label", `Delete provider ${name}`);
    edit.addEventListener("click", () => openForm(index));
    remove.addEventListener("click", () => deleteProvider(index));
    const models = Array.isArray(provider?.models) ? provider.models.filter((m) => typeof m === "string") : [];
    // Chips; the hidden separators keep the cell's text a readable list.
    const chips = models.flatMap((m, i) => [i ? el("span", { className: "sep" }, ", ") : null, el("span", { className: "chip" }, m)]);
    rows.append(el("tr", { dataset: { provider: name, search: `${name} ${models.join(" ")}`.toLowerCase() } },
      el("td", { className: "name" }, name),
      el("td", { className: "url" }, String(urlOf(provider ?? {}))),
      el("td", { className: "key" }, maskKey(provider?.api_key)),
      el("td", { className: "models" }, ...chips),
      el("td", { className: "chains" }, chainsText(provider?.transformer)),
      el("td", { className: "health" }, ...healthCell(name)),
      el("td", { className: "row-actions" }, edit, " ", remove, probeControls(name, models))));
  });
  filterProviders();
  byId("providers-empty").hidden = providers.length > 0;
  byId("providers-table").hidden = providers.length === 0;
  const names = clear(byId("transformer-names"));
  for (const t of state.transformers) names.append(el("option", { value: t.name }));
}

/** The search box: rows whose name or models contain the text stay visible. */
function filterProviders() {
  const needle = byId("provider-search").value.trim().toLowerCase();
  for (const row of byId("providers-rows").rows) row.hidden = Boolean(needle) && !row.dataset.search.includes(needle);
}

function formModels() {
  const seen = new Set();
  return byId("pf-models").value.split(/[\n,]/).map((m) => m.trim()).filter((m) => m && !seen.has(m) && seen.add(m));
}

function refreshModelPick() {
  const pick = clear(byId("pf-model-pick"));
  for (const model of formModels()) if (!chains.perModel.has(model)) pick.append(option(model, model));
  byId("pf-model-chain-add").disabled = pick.options.length === 0;
}

function addModelChain(model, use = []) {
  const editor = chainEditor(use, `Add transformer for ${model}`);
  const remove = el("button", { type: "button", className: "danger", textContent: `Remove the chain of ${model}` });
  const fieldset = el("fieldset", { className: "model-chain", dataset: { model } },
    el("legend", {}, model), editor.element, remove);
  remove.addEventListener("click", () => {
    fieldset.remove();
    chains.perModel.delete(model);
    refreshModelPick();
  });
  chains.perModel.set(model, { editor, fieldset });
  byId("pf-model-chains").append(fieldset);
  refreshModelPick();
}

/** `$VAR` references are not secret: show them as text; anything else stays a password field. */
function showKeyKind() {
  const input = byId("pf-key");
  input.type = input.value.startsWith("$") ? "text" : "password";
}

function openForm(index) {
  editing = index;
  const provider = index >= 0 ? providersOf(state.config)[index] : {};
  const key = provider.api_key;
  const hasSecretKey = Array.isArray(key) ? key.some(isSecret) : isSecret(key);
  byId("provider-form-title").textContent = index >= 0 ? `Edit provider ${provider.name}` : "Add provider";
  byId("pf-name").value = provider.name ?? "";
  byId("pf-url").value = urlOf(provider);
  // A real key is never put back into the page; an empty field keeps it.
  byId("pf-key").value = hasSecretKey ? "" : (Array.isArray(key) ? key.join(", ") : (key ?? ""));
  showKeyKind();
  byId("pf-key").placeholder = hasSecretKey ? `unchanged (${maskKey(key)}): leave empty to keep it` : "";
  byId("pf-key-clear").checked = false;
  byId("pf-key").disabled = false;
  byId("pf-key-clear-label").hidden = !(index >= 0 && key);
  byId("pf-models").value = Array.isArray(provider.models) ? provider.models.join("\n") : "";
  byId("provider-form-error").textContent = "";
  const transformer = provider.transformer && typeof provider.transformer === "object" ? provider.transformer : {};
  chains = { all: chainEditor(transformer.use), perModel: new Map() };
  clear(byId("pf-chain")).append(chains.all.element);
  clear(byId("pf-model-chains"));
  for (const [model, spec] of Object.entries(transformer)) {
    if (model !== "use" && spec && typeof spec === "object") addModelChain(model, spec.use);
  }
  refreshModelPick();
  byId("provider-form").hidden = false;
  byId("pf-name").focus();
}

function closeForm() {
  byId("provider-form").hidden = true;
  editing = null;
  chains = null;
}

/** The provider entry the form describes, built on the old entry so unknown keys stay. */
function readForm(old) {
  const name = byId("pf-name").value.trim();
  const url = byId("pf-url").value.trim();
  if (!name) throw new Error("Name is required");
  if (!url) throw new Error("Endpoint URL is required");
  const others = providersOf(state.config).filter((_, i) => i !== editing);
  if (others.some((p) => String(p?.name ?? "").toLowerCase() === name.toLowerCase())) {
    throw new Error(`A provider named ${name} already exists`);
  }
  const entry = structuredClone(old);
  entry.name = name;
  delete entry.baseUrl;
  delete entry.baseurl;
  entry.api_base_url = url;
  const keys = byId("pf-key").value.split(",").map((k) => k.trim()).filter(Boolean);
  if (byId("pf-key-clear").checked) delete entry.api_key;
  else if (keys.length) entry.api_key = keys.length > 1 ? keys : keys[0]; // several: a key pool
  entry.models = formModels();
  const oldTransformer = old.transformer && typeof old.transformer === "object" ? old.transformer : {};
  const transformer = {};
  const use = chains.all.read();
  if (use.length) transformer.use = use;
  for (const [model, { editor }] of chains.perModel) {
    const modelUse = editor.read();
    if (modelUse.length) transformer[model] = { ...(oldTransformer[model] || {}), use: modelUse };
  }
  if (Object.keys(transformer).length) entry.transformer = transformer;
  else delete entry.transformer;
  return entry;
}

/** Router entries naming the old provider name follow a rename. */
function renameRoutes(oldName, newName) {
  if (!oldName || oldName === newName || !state.config.Router) return;
  const router = routerOf(state.config);
  for (const [scenario, value] of Object.entries(router)) {
    if (typeof value !== "string") continue;
    const [provider, ...model] = value.split(",");
    if (provider.trim().toLowerCase() === oldName.toLowerCase()) router[scenario] = [newName, ...model].join(",");
  }
}

function applyForm(event) {
  event.preventDefault();
  const providers = providersOf(state.config, true);
  const old = editing >= 0 ? providers[editing] : {};
  let entry;
  try {
    entry = readForm(old);
  } catch (error) {
    byId("provider-form-error").textContent = error.message;
    return;
  }
  if (editing >= 0) {
    providers[editing] = entry;
    renameRoutes(old.name, entry.name);
  } else {
    providers.push(entry);
  }
  const verb = editing >= 0 ? "updated" : "added";
  closeForm();
  changed("providers");
  renderProviders();
  notify(`Provider ${entry.name} ${verb}. Not saved yet: press Save.`, "info");
}

function deleteProvider(index) {
  const providers = providersOf(state.config);
  const name = String(providers[index]?.name ?? "");
  if (!window.confirm(`Delete provider ${name}? Router entries that use it must be changed too.`)) return;
  providers.splice(index, 1);
  if (editing !== null) closeForm();
  changed("providers");
  renderProviders();
  const used = Object.entries(state.config.Router || {}).filter(([, v]) => typeof v === "string"
    && v.split(",")[0].trim().toLowerCase() === name.toLowerCase()).map(([k]) => k);
  if (used.length) notify(`Provider ${name} deleted, but the Router still uses it for: ${used.join(", ")}. `
    + "Pick other models in the Router tab before saving.", "warn");
  else notify(`Provider ${name} deleted. Not saved yet: press Save.`, "info");
}

export function initProviders() {
  initHealth(renderProviders);
  byId("provider-add").addEventListener("click", () => openForm(-1));
  byId("provider-search").addEventListener("input", filterProviders);
  byId("provider-cancel").addEventListener("click", closeForm);
  byId("provider-form").addEventListener("submit", applyForm);
  byId("pf-models").addEventListener("input", () => chains && refreshModelPick());
  byId("pf-model-chain-add").addEventListener("click", () => {
    const model = byId("pf-model-pick").value;
    if (model) addModelChain(model);
  });
  byId("pf-key").addEventListener("input", showKeyKind);
  byId("pf-key-clear").addEventListener("change", (event) => { byId("pf-key").disabled = event.target.checked; });
  const rerender = (source) => {
    if (source === "providers") return;
    if (source === "load" && editing !== null) closeForm(); // a reloaded config invalidates the open form
    renderProviders();
    if (source === "load") refreshHealth(); // a saved config may have new providers, and new health
  };
  return rerender;
}
