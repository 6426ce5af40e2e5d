// Settings: the top-level options as a form, the fallback lists (ordered, up / down), and the
// save's problems shown next to the field they concern.

import { byId, clear, el, option } from "./dom.js";
import { changed, modelPairs, state } from "./state.js";

const FALLBACK_SCENARIOS = ["default", "background", "think", "longContext", "webSearch", "image",
  "model", "explicit", "subagent", "custom"];

const inputs = () => document.querySelectorAll("[data-setting]");

function shown(input, value) {
  if (input.dataset.kind === "bool") input.checked = value === true || (input.dataset.setting === "LOG" && value === undefined);
  else if (input.dataset.kind === "list") input.value = Array.isArray(value) ? value.join(", ") : (value ?? "");
  else if (Array.isArray(value)) {
    // APIKEY as named keys ([{name, key}]): not a one-line value; shown, edited in Raw.
    input.value = `${value.length} named keys: edit them in the Raw config tab`;
    input.readOnly = true;
  } else {
    input.readOnly = false;
    input.value = value === undefined || value === null ? "" : String(value);
  }
}

/** The value the field holds, or undefined to leave the key out. Numbers that do not parse are
 * kept as text: the server's check names them next to the field. */
function read(input) {
  const text = input.value.trim();
  switch (input.dataset.kind) {
    case "bool": return input.checked;
    case "int": return text === "" ? undefined : (/^-?\d+$/.test(text) ? Number(text) : text);
    case "list": return text === "" ? undefined : text.split(",").map((t) => t.trim()).filter(Boolean);
    default: return text === "" ? undefined : text;
  }
}

function edit(event) {
  const input = event.target;
  const key = input.dataset.setting;
  const value = read(input);
  if (value === undefined || (key === "forceUseImageAgent" && value === false && !(key in state.config))) delete state.config[key];
  else state.config[key] = value;
  showProblem(key, "");
  changed("settings");
}

function fallbackOf(create) {
  const value = state.config.fallback;
  if (value && typeof value === "object" && !Array.isArray(value)) return value;
  if (!create) return {};
  state.config.fallback = {};
  return state.config.fallback;
}

function setList(scenario, list) {
  const fallback = fallbackOf(true);
  if (list.length) fallback[scenario] = list;
  else delete fallback[scenario];
  if (!Object.keys(fallback).length) delete state.config.fallback;
  changed("settings");
  renderFallback();
}

function button(text, label, action, disabled = false) {
  const node = el("button", { type: "button", textContent: text, disabled });
  node.setAttribute("aria-label", label);
  node.addEventListener("click", action);
  return node;
}

function fallbackCard(scenario, list, pairs) {
  const items = el("ol", { className: "fallback-list" });
  list.forEach((entry, index) => {
    const move = (to) => () => {
      const next = [...list];
      [next[index], next[to]] = [next[to], next[index]];
      setList(scenario, next);
    };
    items.append(el("li", { dataset: { entry } }, el("span", { className: "chip" }, entry),
      button("↑", `Move ${entry} up in ${scenario}`, move(index - 1), index === 0),
      button("↓", `Move ${entry} down in ${scenario}`, move(index + 1), index === list.length - 1),
      button("✕", `Remove ${entry} from ${scenario}`, () => setList(scenario, list.filter((_, i) => i !== index)))));
  });
  const pick = el("select", { id: `fallback-pick-${scenario}` });
  pick.setAttribute("aria-label", `Model to add to the ${scenario} fallback`);
  for (const pair of pairs) if (!list.includes(pair)) pick.append(option(pair, pair));
  const add = button("Add", `Add to ${scenario} fallback`, () => pick.value && setList(scenario, [...list, pick.value]),
    pick.options.length === 0);
  return el("fieldset", { className: "fallback-card", dataset: { scenario } },
    el("legend", {}, scenario), items,
    el("div", { className: "inline" }, pick, add),
    el("p", { className: "error", dataset: { problemFor: `fallback.${scenario}` }, attrs: { role: "alert" } }));
}

function renderFallback() {
  const box = clear(byId("fallback-lists"));
  if (!state.config) return;
  const fallback = fallbackOf(false);
  const pairs = modelPairs(state.config);
  const keys = [...FALLBACK_SCENARIOS, ...Object.keys(fallback).filter((k) => !FALLBACK_SCENARIOS.includes(k))];
  for (const scenario of keys) {
    const list = Array.isArray(fallback[scenario]) ? fallback[scenario].filter((e) => typeof e === "string") : [];
    box.append(fallbackCard(scenario, list, pairs));
  }
}

function render() {
  if (!state.config) return;
  for (const input of inputs()) shown(input, state.config[input.dataset.setting]);
  renderFallback();
}

function showProblem(path, message) {
  for (const node of document.querySelectorAll("[data-problem-for]")) {
    if (node.dataset.problemFor === path) node.textContent = message;
  }
}

/** Put each problem of a refused save next to its field (the longest matching path); the
 * ones no field owns are returned for the notice. */
export function showProblems(problems) {
  const owners = [...document.querySelectorAll("[data-problem-for]")];
  for (const node of owners) node.textContent = "";
  const unplaced = [];
  for (const problem of problems) {
    const path = String(problem.path || "");
    const owner = owners.filter((n) => path === n.dataset.problemFor || path.startsWith(`${n.dataset.problemFor}[`)
      || path.startsWith(`${n.dataset.problemFor}.`)).sort((a, b) => b.dataset.problemFor.length - a.dataset.problemFor.length)[0];
    if (owner) owner.textContent = [owner.textContent, problem.message].filter(Boolean).join("\n");
    else unplaced.push(problem);
  }
  return unplaced;
}

export function initSettings() {
  for (const input of inputs()) input.addEventListener(input.dataset.kind === "bool" || input.tagName === "SELECT" ? "change" : "input", edit);
  byId("settings-form").addEventListener("submit", (event) => event.preventDefault());
  return (source) => {
    if (source === "settings") return;
    if (source === "load") showProblems([]);
    render();
  };
}
