// Router: one picker per scenario, fed by the draft's provider,model pairs, plus the threshold.

import { byId, clear, notify, option } from "./dom.js";
import { changed, modelPairs, routerOf, state } from "./state.js";

const THRESHOLD = "longContextThreshold";

function scenarioSelects() {
  return document.querySelectorAll("select[data-route]");
}

export function renderRouter() {
  if (!state.config) return;
  const router = state.config.Router && typeof state.config.Router === "object" ? state.config.Router : {};
  const pairs = modelPairs(state.config);
  for (const select of scenarioSelects()) {
    const value = typeof router[select.dataset.route] === "string" ? router[select.dataset.route] : "";
    // Shown selected with the configured spelling when it matches case-insensitively.
    const match = pairs.find((p) => p.toLowerCase() === value.toLowerCase());
    clear(select).append(option("", "(not set)", !value));
    for (const pair of pairs) select.append(option(pair, pair, pair === match));
    if (value && !match) select.append(option(value, `${value} (not a configured model)`, true));
    // A deleted provider or model: say so next to the picker, before the save refuses nothing.
    const warning = byId(`route-${select.dataset.route}-warning`);
    if (warning) warning.textContent = value && !match ? `⚠ ${value} is not a configured model: pick another` : "";
  }
  const threshold = router[THRESHOLD];
  byId(`route-${THRESHOLD}`).value = threshold === undefined || threshold === null ? "" : String(threshold);
}

function pick(event) {
  const router = routerOf(state.config);
  const scenario = event.target.dataset.route;
  if (event.target.value) router[scenario] = event.target.value;
  else delete router[scenario];
  changed("router");
}

function setThreshold(event) {
  const router = routerOf(state.config);
  const text = event.target.value.trim();
  if (!text) {
    delete router[THRESHOLD];
  } else {
    const value = Number(text);
    if (!Number.isInteger(value) || value < 1) {
      notify("The long-context threshold must be a whole number of tokens above 0", "error");
      return;
    }
    router[THRESHOLD] = value;
  }
  changed("router");
}

export function initRouter() {
  for (const select of scenarioSelects()) select.addEventListener("change", pick);
  byId(`route-${THRESHOLD}`).addEventListener("change", setThreshold);
  return (source) => { if (source !== "router") renderRouter(); };
}
