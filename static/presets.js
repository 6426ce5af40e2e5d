// Presets: the installed ones (apply inputs, delete), install from a file or a URL (a dry run
// first: the inputs to fill and the risky settings to trust), and export of the config.

import { api } from "./api.js";
import { byId, clear, el, notify, option } from "./dom.js";

let pending = null; // {kind: "install", source} or {kind: "apply", name} while the inputs form is open

async function loadList() {
  let presets = [];
  try {
    presets = (await api("GET", "/api/presets")).presets || [];
  } catch (error) {
    notify(`Cannot list the presets: ${error.message}`, "error");
  }
  const rows = clear(byId("presets-rows"));
  for (const preset of presets) {
    const name = String(preset.id ?? preset.name);
    const apply = el("button", { type: "button", textContent: "Apply…" });
    const remove = el("button", { type: "button", className: "danger", textContent: "Delete" });
    apply.setAttribute("aria-label", `Apply preset ${name}`);
    remove.setAttribute("aria-label", `Delete preset ${name}`);
    apply.addEventListener("click", () => openApply(name));
    remove.addEventListener("click", () => removePreset(name));
    const status = preset.needsConfiguration ? el("span", { className: "badge state-cooling" }, "needs inputs")
      : el("span", { className: "badge state-ok" }, "ready");
    rows.append(el("tr", { dataset: { preset: name } },
      el("td", { className: "name" }, name), el("td", {}, String(preset.version ?? "")),
      el("td", {}, String(preset.description ?? "")), el("td", { className: "status" }, status),
      el("td", { className: "row-actions" }, apply, " ", remove)));
  }
  byId("presets-empty").hidden = presets.length > 0;
  byId("presets-table").hidden = presets.length === 0;
}

function inputField(spec) {
  const id = `preset-input-${spec.id}`;
  const label = `${spec.label || spec.id}${spec.required ? "" : " (optional)"}`;
  let control;
  if (spec.type === "select" && Array.isArray(spec.options)) {
    control = el("select", { id });
    for (const o of spec.options) control.append(option(String(o.value ?? o), String(o.label ?? o.value ?? o)));
  } else if (spec.type === "confirm") {
    control = el("input", { id, type: "checkbox" });
  } else {
    control = el("input", { id, type: spec.type === "password" ? "password" : "text", autocomplete: "off", spellcheck: false });
  }
  control.dataset.input = spec.id;
  if (spec.filled) control.placeholder = "already set: leave empty to keep it";
  return el("div", { className: "field" }, el("label", { htmlFor: id }, label), control,
    spec.description ? el("p", { className: "hint" }, String(spec.description)) : null);
}

function openForm(title, submit, inputs, risks = []) {
  byId("preset-inputs-title").textContent = title;
  byId("preset-inputs-submit").textContent = submit;
  const fields = clear(byId("preset-fields"));
  for (const spec of inputs) fields.append(inputField(spec));
  if (!inputs.length) fields.append(el("p", { className: "hint" }, "This preset asks for nothing."));
  const list = clear(byId("preset-risk-list"));
  for (const risk of risks) list.append(el("li", {}, el("code", {}, String(risk))));
  byId("preset-risks").hidden = risks.length === 0;
  byId("preset-trust").checked = false;
  byId("preset-inputs-error").textContent = "";
  byId("preset-inputs").hidden = false;
  byId("preset-inputs").scrollIntoView({ block: "nearest" });
}

function closeForm() {
  byId("preset-inputs").hidden = true;
  pending = null;
}

function filledInputs() {
  const secrets = {};
  for (const control of document.querySelectorAll("#preset-fields [data-input]")) {
    const value = control.type === "checkbox" ? control.checked : control.value.trim();
    if (value !== "") secrets[control.dataset.input] = value;
  }
  return secrets;
}

/** Send the install (dry run or not) from the file or the URL the user gave. */
function sendInstall(source, extra) {
  if (source.file) {
    const form = new FormData();
    form.append("file", source.file, source.file.name);
    if (source.name) form.append("name", source.name);
    for (const [key, value] of Object.entries(extra)) form.append(key, typeof value === "object" ? JSON.stringify(value) : String(value));
    return api("POST", "/api/presets/upload", { form });
  }
  return api("POST", "/api/presets/install", { json: { url: source.url, name: source.name || undefined, ...extra } });
}

async function preview(event) {
  event.preventDefault();
  const error = byId("preset-install-error");
  const file = byId("preset-file").files[0];
  const url = byId("preset-url").value.trim();
  if (!file && !url) {
    error.textContent = "Choose a preset file or enter its URL.";
    return;
  }
  const source = { file, url, name: byId("preset-name").value.trim() };
  try {
    const dry = await sendInstall(source, { dryRun: true });
    error.textContent = "";
    pending = { kind: "install", source, risky: (dry.risks || []).length > 0 };
    openForm(`Install preset ${dry.presetName ?? ""}`.trim(), "Install", dry.inputs || [], dry.risks || []);
  } catch (problem) {
    error.textContent = problem.message;
  }
}

async function openApply(name) {
  try {
    const detail = await api("GET", `/api/presets/${encodeURIComponent(name)}`);
    pending = { kind: "apply", name };
    openForm(`Apply preset ${name}`, "Apply", detail.inputs || []);
  } catch (error) {
    notify(`Cannot read preset ${name}: ${error.message}`, "error");
  }
}

async function submitInputs(event) {
  event.preventDefault();
  const error = byId("preset-inputs-error");
  const secrets = filledInputs();
  try {
    if (pending.kind === "install") {
      if (pending.risky && !byId("preset-trust").checked) {
        error.textContent = "Tick “I trust this preset” to install it with these settings.";
        return;
      }
      const answer = await sendInstall(pending.source, { secrets, trust: byId("preset-trust").checked });
      notify(`Preset ${answer.presetName} installed.`, "ok");
      byId("preset-install").reset();
    } else {
      const answer = await api("POST", `/api/presets/${encodeURIComponent(pending.name)}/apply`, { json: { secrets } });
      notify(answer.needsConfiguration ? `Preset ${pending.name}: still missing ${answer.missing.join(", ")}`
        : `Preset ${pending.name} is ready: run it with ccr-aio ${pending.name}`, answer.needsConfiguration ? "info" : "ok");
    }
  } catch (problem) {
    error.textContent = problem.message;
    return;
  }
  closeForm();
  await loadList();
}

async function removePreset(name) {
  if (!window.confirm(`Delete preset ${name}?`)) return;
  try {
    await api("DELETE", `/api/presets/${encodeURIComponent(name)}`);
    notify(`Preset ${name} deleted.`, "ok");
  } catch (error) {
    notify(`Not deleted: ${error.message}`, "error");
  }
  await loadList();
}

async function exportPreset(event) {
  event.preventDefault();
  const error = byId("preset-export-error");
  const name = byId("export-name").value.trim();
  if (!name) {
    error.textContent = "Give the preset a name.";
    return;
  }
  try {
    const blob = await api("POST", "/api/presets/export", { blob: true, json: {
      name, description: byId("export-description").value.trim(), author: byId("export-author").value.trim() } });
    const link = el("a", { href: URL.createObjectURL(blob), download: `${name}.ccrsets` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60000);
    error.textContent = "";
    notify(`Exported ${name}.ccrsets (keys left out).`, "ok");
  } catch (problem) {
    error.textContent = problem.message;
  }
}

export const showPresets = loadList;

export function initPresets() {
  byId("preset-install").addEventListener("submit", preview);
  byId("preset-inputs").addEventListener("submit", submitInputs);
  byId("preset-inputs-cancel").addEventListener("click", closeForm);
  byId("preset-export").addEventListener("submit", exportPreset);
}
