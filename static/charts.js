// Small SVG charts for the Activity tab: bars per category, stacked by series or side by side.
// Drawn with DOM calls only (no markup strings, no inline styles: the page's CSP allows
// neither); colours come from ui.css classes .s0-.s7, so light and dark themes both work.

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 420; // the viewBox: the SVG scales to its box, text with it
const HEIGHT = 190;
const PAD = { top: 10, right: 8, bottom: 26, left: 48 };
const COLOURS = 8;

function svg(tag, attrs = {}, text = null) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== null) node.textContent = text;
  return node;
}

/** A "round" axis maximum and its ticks: 1, 2 or 5 times a power of ten per step. */
function scale(max) {
  if (!(max > 0)) return { top: 1, ticks: [0, 1] };
  const rough = max / 4;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough);
  const top = Math.ceil(max / step) * step;
  const ticks = [];
  for (let t = 0; t <= top + step / 2; t += step) ticks.push(t);
  return { top, ticks };
}

function axes(root, categories, ticks, top, format) {
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  for (const tick of ticks) {
    const y = PAD.top + plotHeight * (1 - tick / top);
    root.append(svg("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: y, y2: y, class: "grid-line" }));
    root.append(svg("text", { x: PAD.left - 6, y: y + 4, "text-anchor": "end", class: "tick" }, format(tick)));
  }
  const slot = (WIDTH - PAD.left - PAD.right) / Math.max(categories.length, 1);
  const every = Math.ceil(categories.length / 10); // at most ~10 labels, whatever the range
  categories.forEach((label, i) => {
    if (i % every !== 0 && i !== categories.length - 1) return;
    const x = PAD.left + slot * (i + 0.5);
    root.append(svg("text", { x, y: HEIGHT - PAD.bottom + 16, "text-anchor": "middle", class: "tick" }, label));
  });
  return slot;
}

function legend(container, series) {
  const list = document.createElement("ul");
  list.className = "legend";
  series.forEach((s, i) => {
    const item = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = `swatch s${i % COLOURS}`;
    item.append(swatch, s.name);
    list.append(item);
  });
  container.append(list);
}

/**
 * Draw bars into `container` (its content is replaced).
 * data: {categories: [label], series: [{name, values: [number]}]}; opts: {stacked, format, label}
 * Returns the number of bars drawn (0 when there is nothing to show).
 */
export function barChart(container, data, opts = {}) {
  const { stacked = true, format = String, label = "" } = opts;
  const { categories, series } = data;
  container.replaceChildren();
  const totals = categories.map((_, i) => series.reduce((sum, s) => sum + (s.values[i] || 0), 0));
  const highest = stacked ? Math.max(0, ...totals)
    : Math.max(0, ...series.flatMap((s) => s.values.map((v) => v || 0)));
  if (!categories.length || !series.length || highest === 0) {
    const empty = document.createElement("p");
    empty.className = "hint chart-empty";
    empty.textContent = "No data for this period yet.";
    container.append(empty);
    return 0;
  }
  const { top, ticks } = scale(highest);
  const root = svg("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", class: "chart-svg",
    "aria-label": label });
  const slot = axes(root, categories, ticks, top, format);
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const barWidth = Math.max(slot * 0.7, 1);
  let drawn = 0;
  categories.forEach((category, i) => {
    let base = 0;
    series.forEach((s, j) => {
      const value = s.values[i] || 0;
      if (value <= 0) return;
      const width = stacked ? barWidth : barWidth / series.length;
      const x = PAD.left + slot * i + (slot - barWidth) / 2 + (stacked ? 0 : width * j);
      const height = (value / top) * plotHeight;
      const y = PAD.top + plotHeight - height - (stacked ? (base / top) * plotHeight : 0);
      const bar = svg("rect", { x, y, width: Math.max(width - 1, 1), height: Math.max(height, 1),
        class: `bar s${j % COLOURS}` });
      bar.append(svg("title", {}, `${category} · ${s.name}: ${format(value)}`));
      root.append(bar);
      if (stacked) base += value;
      drawn += 1;
    });
  });
  container.append(root);
  if (series.length > 1 || series[0].name) legend(container, series);
  return drawn;
}
