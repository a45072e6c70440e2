/* Inline SVG charts for the indicator dashboard (no library, nothing fetched).
   Every chart is an <svg role="img"> with a Chinese aria-label and a hidden data table. */
"use strict";
(function () {
  const NS = "http://www.w3.org/2000/svg";
  const PALETTE = ["#1f4e8c", "#e07b24", "#2e9d5b", "#b42318", "#7a5af8", "#0e9384", "#c11574", "#667085", "#a15c07", "#3e7bfa"];

  function el(name, attrs, text) {
    const n = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, v);
    if (text != null) n.textContent = text;
    return n;
  }

  function frame(label, w, h) {
    const svg = el("svg", { viewBox: `0 0 ${w} ${h}`, role: "img", "aria-label": label });
    svg.appendChild(el("title", {}, label));
    return svg;
  }

  function dataTable(caption, head, rows) {
    const t = document.createElement("table");
    t.className = "sr-only";
    const c = document.createElement("caption");
    c.textContent = caption;
    t.appendChild(c);
    const tr = document.createElement("tr");
    head.forEach((x) => { const th = document.createElement("th"); th.scope = "col"; th.textContent = x; tr.appendChild(th); });
    t.appendChild(tr);
    rows.forEach((r) => {
      const row = document.createElement("tr");
      r.forEach((x) => { const td = document.createElement("td"); td.textContent = x; row.appendChild(td); });
      t.appendChild(row);
    });
    return t;
  }

  /* an axis maximum that splits into four round steps */
  function niceMax(v) {
    if (v <= 0) return 4;
    const raw = v / 4, p = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= raw) return Math.max(4, Math.ceil(m * p) * 4);
    return 40 * p;
  }

  function legend(items) {
    const div = document.createElement("div");
    div.className = "legend";
    items.forEach(([name, color]) => {
      const s = document.createElement("span");
      const i = document.createElement("i");
      i.style.background = color;
      s.appendChild(i);
      s.appendChild(document.createTextNode(name));
      div.appendChild(s);
    });
    return div;
  }

  /* bars (left axis, counts) + a line (right axis, 0–100 %) over the same categories */
  function barLine(host, { label, categories, bars, barName, line, lineName }) {
    host.replaceChildren();
    const w = 560, h = 240, L = 44, R = 44, T = 14, B = 34;
    const svg = frame(label, w, h);
    const max = niceMax(Math.max(0, ...bars));
    const n = Math.max(categories.length, 1), step = (w - L - R) / n;
    for (let i = 0; i <= 4; i++) {
      const y = T + (h - T - B) * (1 - i / 4);
      svg.appendChild(el("line", { x1: L, x2: w - R, y1: y, y2: y, stroke: "#e4e7ec" }));
      svg.appendChild(el("text", { x: L - 6, y: y + 4, "text-anchor": "end" }, String(Math.round(max * i / 4))));
      svg.appendChild(el("text", { x: w - R + 6, y: y + 4 }, `${i * 25}%`));
    }
    categories.forEach((c, i) => {
      const x = L + i * step, bh = (h - T - B) * (bars[i] || 0) / max;
      const bar = el("rect", { x: x + step * 0.2, y: h - B - bh, width: step * 0.6, height: Math.max(bh, 0), fill: PALETTE[0], rx: 2 });
      bar.appendChild(el("title", {}, `${c} ${barName} ${bars[i]}`));
      svg.appendChild(bar);
      svg.appendChild(el("text", { x: x + step / 2, y: h - B + 16, "text-anchor": "middle" }, c));
      if (bars[i]) svg.appendChild(el("text", { x: x + step / 2, y: h - B - bh - 4, "text-anchor": "middle" }, String(bars[i])));
    });
    const pts = line.map((v, i) => (v == null ? null : [L + i * step + step / 2, T + (h - T - B) * (1 - v)]));
    let d = "";
    pts.forEach((p) => { if (p) d += (d ? " L" : "M") + p[0].toFixed(1) + " " + p[1].toFixed(1); });
    if (d) svg.appendChild(el("path", { d, fill: "none", stroke: PALETTE[1], "stroke-width": 2.5 }));
    pts.forEach((p, i) => {
      if (!p) return;
      const dot = el("circle", { cx: p[0], cy: p[1], r: 4, fill: PALETTE[1] });
      dot.appendChild(el("title", {}, `${categories[i]} ${lineName} ${(line[i] * 100).toFixed(1)}%`));
      svg.appendChild(dot);
    });
    host.appendChild(svg);
    host.appendChild(legend([[barName, PALETTE[0]], [lineName, PALETTE[1]]]));
    host.appendChild(dataTable(label, ["月份", barName, lineName],
      categories.map((c, i) => [c, String(bars[i]), line[i] == null ? "无数据" : `${(line[i] * 100).toFixed(1)}%`])));
  }

  /* a 0–100 % line with point labels */
  function percentLine(host, { label, categories, values, name, notes }) {
    host.replaceChildren();
    const w = 560, h = 240, L = 44, R = 16, T = 16, B = 34;
    const svg = frame(label, w, h);
    for (let i = 0; i <= 4; i++) {
      const y = T + (h - T - B) * (1 - i / 4);
      svg.appendChild(el("line", { x1: L, x2: w - R, y1: y, y2: y, stroke: "#e4e7ec" }));
      svg.appendChild(el("text", { x: L - 6, y: y + 4, "text-anchor": "end" }, `${i * 25}%`));
    }
    const n = Math.max(categories.length, 1), step = (w - L - R) / n;
    const pts = values.map((v, i) => (v == null ? null : [L + i * step + step / 2, T + (h - T - B) * (1 - v)]));
    let d = "";
    pts.forEach((p) => { if (p) d += (d ? " L" : "M") + p[0].toFixed(1) + " " + p[1].toFixed(1); });
    if (d) svg.appendChild(el("path", { d, fill: "none", stroke: PALETTE[2], "stroke-width": 2.5 }));
    categories.forEach((c, i) => {
      svg.appendChild(el("text", { x: L + i * step + step / 2, y: h - B + 16, "text-anchor": "middle" }, c));
      const p = pts[i];
      if (!p) return;
      const dot = el("circle", { cx: p[0], cy: p[1], r: 4, fill: PALETTE[2] });
      dot.appendChild(el("title", {}, `${c} ${name} ${(values[i] * 100).toFixed(1)}% ${notes[i] || ""}`));
      svg.appendChild(dot);
      svg.appendChild(el("text", { x: p[0], y: p[1] - 8, "text-anchor": "middle" }, `${(values[i] * 100).toFixed(0)}%`));
    });
    host.appendChild(svg);
    host.appendChild(legend([[name, PALETTE[2]]]));
    host.appendChild(dataTable(label, ["月份", name, "分子/分母"],
      categories.map((c, i) => [c, values[i] == null ? "无数据" : `${(values[i] * 100).toFixed(1)}%`, notes[i] || ""])));
  }

  /* horizontal bars, one per category, sorted by the caller */
  function hbars(host, { label, items }) {
    host.replaceChildren();
    const rowH = 20, L = 150, R = 40, T = 6;
    const w = 560, h = T * 2 + rowH * Math.max(items.length, 1);
    const svg = frame(label, w, h);
    const max = niceMax(Math.max(0, ...items.map((x) => x.value)));
    items.forEach((it, i) => {
      const y = T + i * rowH, bw = (w - L - R) * it.value / max;
      svg.appendChild(el("text", { x: L - 6, y: y + 14, "text-anchor": "end" }, it.name));
      const bar = el("rect", { x: L, y: y + 3, width: Math.max(bw, 1), height: rowH - 6, fill: it.color || PALETTE[0], rx: 2 });
      bar.appendChild(el("title", {}, `${it.name}（${it.code}）${it.value}`));
      svg.appendChild(bar);
      svg.appendChild(el("text", { x: L + bw + 4, y: y + 14 }, String(it.value)));
    });
    if (!items.length) svg.appendChild(el("text", { x: w / 2, y: 18, "text-anchor": "middle" }, "期间内无线索"));
    host.appendChild(svg);
    host.appendChild(dataTable(label, ["规则", "代码", "线索数"], items.map((x) => [x.name, x.code, String(x.value)])));
  }

  /* stacked bars: categories × series */
  function stacked(host, { label, categories, series }) {
    host.replaceChildren();
    const w = 560, h = 240, L = 36, R = 10, T = 12, B = 34;
    const svg = frame(label, w, h);
    const totals = categories.map((_, i) => series.reduce((s, x) => s + (x.values[i] || 0), 0));
    const max = niceMax(Math.max(0, ...totals));
    for (let i = 0; i <= 4; i++) {
      const y = T + (h - T - B) * (1 - i / 4);
      svg.appendChild(el("line", { x1: L, x2: w - R, y1: y, y2: y, stroke: "#e4e7ec" }));
      svg.appendChild(el("text", { x: L - 6, y: y + 4, "text-anchor": "end" }, String(Math.round(max * i / 4))));
    }
    const n = Math.max(categories.length, 1), step = (w - L - R) / n;
    const every = Math.ceil(n / 10);
    categories.forEach((c, i) => {
      let y = h - B;
      series.forEach((s, k) => {
        const v = s.values[i] || 0;
        if (!v) return;
        const bh = (h - T - B) * v / max;
        y -= bh;
        const r = el("rect", { x: L + i * step + step * 0.15, y, width: step * 0.7, height: bh, fill: PALETTE[k % PALETTE.length] });
        r.appendChild(el("title", {}, `${c} ${s.name} ${v}`));
        svg.appendChild(r);
      });
      if (i % every === 0) svg.appendChild(el("text", { x: L + i * step + step / 2, y: h - B + 16, "text-anchor": "middle" }, c));
    });
    host.appendChild(svg);
    host.appendChild(legend(series.map((s, k) => [s.name, PALETTE[k % PALETTE.length]])));
    host.appendChild(dataTable(label, ["周", ...series.map((s) => s.name)],
      categories.map((c, i) => [c, ...series.map((s) => String(s.values[i] || 0))])));
  }

  window.ZSCharts = { barLine, percentLine, hbars, stacked, PALETTE };
})();
