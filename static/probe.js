// "Test connection": a 1-token request (POST /v1/messages, max_tokens 1) through this server to
// one model of a provider, showing the status and how long it took. It uses the running
// config: a provider added in the draft must be saved first.

import { api } from "./api.js";
import { el, option } from "./dom.js";

async function probe(provider, model, output) {
  output.className = "probe-result";
  output.textContent = `Testing ${model}…`;
  const started = performance.now();
  try {
    await api("POST", "/v1/messages", { json: { model: `${provider},${model}`, max_tokens: 1,
      messages: [{ role: "user", content: "ping" }] } });
    output.classList.add("probe-ok");
    output.textContent = `OK · ${Math.round(performance.now() - started)} ms`;
  } catch (error) {
    output.classList.add("probe-failed");
    const status = error.status ? `HTTP ${error.status}` : "no answer";
    output.textContent = `Failed (${status}) · ${Math.round(performance.now() - started)} ms: ${error.message}`;
  }
}

/** The controls for one provider: a model picker, the Test button, and where the result goes. */
export function probeControls(name, models) {
  const pick = el("select", { className: "probe-model" });
  pick.setAttribute("aria-label", `Model to test for ${name}`);
  for (const model of models) pick.append(option(model, model));
  const output = el("output", { className: "probe-result", attrs: { "aria-live": "polite" } });
  const test = el("button", { type: "button", textContent: "Test", disabled: models.length === 0 });
  test.setAttribute("aria-label", `Test connection to ${name}`);
  test.addEventListener("click", async () => {
    test.disabled = true;
    try {
      await probe(name, pick.value, output);
    } finally {
      test.disabled = false;
    }
  });
  return el("div", { className: "probe" }, pick, test, output);
}
