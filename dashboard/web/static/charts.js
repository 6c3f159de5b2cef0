// Tiny SVG charts for the dashboard: line/area series, sparklines and a
// score gauge. No dependencies; every function returns an SVG element.
"use strict";
(function () {
  const NS = "http://www.w3.org/2000/svg";
  function el(name, attrs, parent) {
    const n = document.createElementNS(NS, name);
    for (const k in attrs || {}) n.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(n);
    return n;
  }
  function niceMax(v) {
    if (v <= 0) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }
  function fmtShort(v) {
    if (Math.abs(v) >= 1e6) return (v / 1e6).toFixed(v >= 1e7 ? 0 : 1) + "M";
    if (Math.abs(v) >= 1e3) return (v / 1e3).toFixed(v >= 1e4 ? 0 : 1) + "k";
    return String(Math.round(v * 100) / 100);
  }
  function fmtTime(t, span) {
    const d = new Date(t);
    if (span > 3 * 86400e3) return d.toLocaleDateString(undefined, { month: "short", day: "numeric" });
    return d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  }

  // line draws series [{name, color, points: [{t (ms), v}]}] with time on x.
  function line(series, opts) {
    opts = Object.assign({ width: 720, height: 240, area: true, yFormat: fmtShort, yMin: 0, yMax: null }, opts || {});
    const W = opts.width, H = opts.height, L = 44, R = 12, T = 12, B = 26;
    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": opts.label || "chart", preserveAspectRatio: "none" });
    const pts = series.flatMap(s => s.points);
    if (!pts.length) {
      const t = el("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, svg);
      t.textContent = "No data in this range";
      return svg;
    }
    let t0 = Math.min(...pts.map(p => p.t)), t1 = Math.max(...pts.map(p => p.t));
    if (t1 === t0) { t0 -= 3600e3; t1 += 3600e3; }
    const vmax = opts.yMax != null ? opts.yMax : niceMax(Math.max(...pts.map(p => p.v)));
    const vmin = opts.yMin;
    const x = t => L + (t - t0) / (t1 - t0) * (W - L - R);
    const y = v => T + (1 - (v - vmin) / (vmax - vmin || 1)) * (H - T - B);
    for (let i = 0; i <= 4; i++) {
      const v = vmin + (vmax - vmin) * i / 4;
      el("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid-line" }, svg);
      const lab = el("text", { x: L - 8, y: y(v) + 4, "text-anchor": "end" }, svg);
      lab.textContent = opts.yFormat(v);
    }
    const ticks = Math.min(6, Math.max(2, Math.floor((W - L - R) / 110)));
    let prev = "";
    for (let i = 0; i <= ticks; i++) {
      const t = t0 + (t1 - t0) * i / ticks;
      const txt = fmtTime(t, t1 - t0);
      if (txt === prev) continue; // short spans: one label per distinct minute
      prev = txt;
      const lab = el("text", { x: x(t), y: H - 6, "text-anchor": i === 0 ? "start" : i === ticks ? "end" : "middle" }, svg);
      lab.textContent = txt;
    }
    series.forEach((s, si) => {
      const ps = s.points.slice().sort((a, b) => a.t - b.t);
      if (!ps.length) return;
      const d = ps.map((p, i) => (i ? "L" : "M") + x(p.t).toFixed(1) + "," + y(p.v).toFixed(1)).join("");
      if (opts.area && si === 0) {
        const gid = "g" + Math.random().toString(36).slice(2);
        const grad = el("linearGradient", { id: gid, x1: 0, x2: 0, y1: 0, y2: 1 }, el("defs", {}, svg));
        el("stop", { offset: "0%", "stop-color": s.color, "stop-opacity": 0.22 }, grad);
        el("stop", { offset: "100%", "stop-color": s.color, "stop-opacity": 0 }, grad);
        el("path", { d: d + `L${x(ps[ps.length - 1].t).toFixed(1)},${y(vmin)}L${x(ps[0].t).toFixed(1)},${y(vmin)}Z`, fill: `url(#${gid})` }, svg);
      }
      el("path", { d, fill: "none", stroke: s.color, "stroke-width": 2.2, "stroke-linejoin": "round", "stroke-linecap": "round", "vector-effect": "non-scaling-stroke" }, svg);
      if (ps.length <= 60) for (const p of ps) {
        const c = el("circle", { cx: x(p.t), cy: y(p.v), r: 2.6, fill: "#fff", stroke: s.color, "stroke-width": 1.6 }, svg);
        const tt = el("title", {}, c);
        tt.textContent = `${s.name}: ${opts.yFormat(p.v)} — ${new Date(p.t).toLocaleString()}`;
      }
    });
    return svg;
  }

  function spark(values, color, w, h) {
    w = w || 120; h = h || 32;
    const svg = el("svg", { viewBox: `0 0 ${w} ${h}`, width: w, height: h, class: "spark" });
    if (values.length < 2) return svg;
    const lo = Math.min(...values), hi = Math.max(...values), span = hi - lo || 1;
    const d = values.map((v, i) => (i ? "L" : "M") + (i / (values.length - 1) * (w - 4) + 2).toFixed(1) + "," + (h - 3 - (v - lo) / span * (h - 6)).toFixed(1)).join("");
    el("path", { d, fill: "none", stroke: color, "stroke-width": 1.8, "stroke-linecap": "round", "stroke-linejoin": "round" }, svg);
    return svg;
  }

  function gauge(score, color) {
    const svg = el("svg", { viewBox: "0 0 120 120", width: 120, height: 120, role: "img", "aria-label": `score ${score}` });
    const r = 50, c = 2 * Math.PI * r;
    el("circle", { cx: 60, cy: 60, r, fill: "none", stroke: "#eef2f7", "stroke-width": 12 }, svg);
    el("circle", { cx: 60, cy: 60, r, fill: "none", stroke: color, "stroke-width": 12, "stroke-linecap": "round",
      "stroke-dasharray": `${(score / 100 * c).toFixed(1)} ${c.toFixed(1)}`, transform: "rotate(-90 60 60)" }, svg);
    const t = el("text", { x: 60, y: 68, "text-anchor": "middle", "font-size": 30, "font-weight": 800, fill: "#0f172a" }, svg);
    t.textContent = score;
    return svg;
  }

  window.Charts = { line, spark, gauge, fmtShort };
})();
