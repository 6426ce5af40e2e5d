// An editor for one transformer chain (`use`): rows of name + options (a JSON object), in order.

import { el } from "./dom.js";

let rowCount = 0; // unique ids for the labels

function chainRow(list, name = "", options = undefined) {
  const id = `chain-${++rowCount}`;
  const nameInput = el("input", { id: `${id}-name`, className: "chain-name", value: name, autocomplete: "off",
    spellcheck: false, attrs: { list: "transformer-names" } });
  const optionsInput = el("input", { id: `${id}-options`, className: "chain-options", spellcheck: false,
    autocomplete: "off", placeholder: "{}", value: options === undefined ? "" : JSON.stringify(options) });
  const remove = el("button", { type: "button", className: "chain-remove", textContent: "Remove" });
  const row = el("div", { className: "chain-row" },
    el("label", { htmlFor: nameInput.id, textContent: "Transformer" }), nameInput,
    el("label", { htmlFor: optionsInput.id, textContent: "Options (JSON, optional)" }), optionsInput,
    remove);
  remove.setAttribute("aria-label", "Remove this transformer");
  remove.addEventListener("click", () => row.remove());
  list.append(row);
  return row;
}

/**
 * A chain editor for `use` (names or [name, options]). Returns {element, read()} where read()
 * gives the chain as CCR writes it, or throws Error with a message naming the bad row.
 */
export function chainEditor(use = [], addLabel = "Add transformer") {
  const list = el("div", { className: "chain-list" });
  for (const entry of Array.isArray(use) ? use : []) {
    if (typeof entry === "string") chainRow(list, entry);
    else if (Array.isArray(entry)) chainRow(list, String(entry[0] ?? ""), entry[1]);
  }
  const add = el("button", { type: "button", className: "chain-add", textContent: addLabel });
  add.addEventListener("click", () => chainRow(list).querySelector(".chain-name").focus());
  const element = el("div", { className: "chain" }, list, add);

  function read() {
    const chain = [];
    for (const row of list.querySelectorAll(".chain-row")) {
      const name = row.querySelector(".chain-name").value.trim();
      const text = row.querySelector(".chain-options").value.trim();
      if (!name) {
        if (text) throw new Error("A transformer row has options but no name");
        continue;
      }
      if (!text) {
        chain.push(name);
        continue;
      }
      let options;
      try {
        options = JSON.parse(text);
      } catch (error) {
        throw new Error(`Options of ${name} are not valid JSON: ${error.message}`);
      }
      if (!options || typeof options !== "object" || Array.isArray(options)) {
        throw new Error(`Options of ${name} must be a JSON object like {"max_tokens": 8192}`);
      }
      chain.push([name, options]);
    }
    return chain;
  }
  return { element, read };
}
