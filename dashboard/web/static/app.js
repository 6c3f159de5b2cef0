// crmstream dashboard: sign-in, overview (live funnel, hot leads, at-risk
// accounts, live alerts, model and pipeline health), lead, account, alerts
// and models pages. Talks to /api/v1 with the bearer token in the
// Authorization header; live streams are Server-Sent Events read from fetch.
"use strict";
(function () {
  const $ = (s, root) => (root || document).querySelector(s);
  const STAGE_COLORS = ["var(--s1)", "var(--s2)", "var(--s3)", "var(--s4)", "var(--s5)", "var(--s6)"];
  const HEX = ["#4f46e5", "#0ea5e9", "#10b981", "#f59e0b", "#ef4444", "#8b5cf6"];
  const state = { token: sessionStorage.getItem("crm.token") || "", me: null, range: "24h", groupBy: "", streams: [], hotOffset: 0 };

  // ---------- helpers ----------
  function h(tag, attrs, ...kids) {
    const n = document.createElement(tag);
    for (const k in attrs || {}) {
      const v = attrs[k];
      if (v == null || v === false) continue;
      if (k === "class") n.className = v;
      else if (k === "style") n.style.cssText = v;
      else if (k.startsWith("on")) n.addEventListener(k.slice(2), v);
      else n.setAttribute(k, v === true ? "" : v);
    }
    for (const c of kids.flat()) if (c != null && c !== false) n.append(c.nodeType ? c : String(c));
    return n;
  }
  const fmt = n => Number(n).toLocaleString("en-US");
  const pct = (x, d) => (x * 100).toFixed(d == null ? 1 : d) + "%";
  const initials = s => (s || "?").split(/[\s@._-]+/).filter(Boolean).slice(0, 2).map(w => w[0].toUpperCase()).join("");
  const colorFor = s => HEX[[...(s || "")].reduce((a, c) => a + c.charCodeAt(0), 0) % HEX.length];
  function ago(t) {
    const s = (Date.now() - new Date(t).getTime()) / 1000;
    if (s < 60) return "just now";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    if (s < 86400) return Math.floor(s / 3600) + " h ago";
    return Math.floor(s / 86400) + " d ago";
  }
  const when = t => new Date(t).toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  const can = p => state.me && state.me.permissions.includes(p);
  function toast(msg) {
    const t = h("div", { class: "toast" }, msg);
    $("#toasts").append(t);
    setTimeout(() => t.remove(), 4200);
  }

  class APIError extends Error { constructor(status, body) { super((body && body.error && body.error.message) || ("HTTP " + status)); this.status = status; } }
  async function api(path, opts) {
    const res = await fetch("/api/v1" + path, Object.assign({ headers: { Authorization: "Bearer " + state.token } }, opts || {}));
    let body = null;
    try { body = await res.json(); } catch (_) { /* empty */ }
    if (res.status === 401) { signOut("Your session expired or the token is invalid."); throw new APIError(401, body); }
    if (!res.ok) throw new APIError(res.status, body);
    return body;
  }

  // stream reads Server-Sent Events from a fetch body and reconnects with
  // backoff; returns a function that stops it.
  function stream(path, onEvent) {
    const ctl = new AbortController();
    let delay = 1000, stopped = false;
    $("#live").hidden = false;
    async function loop() {
      while (!stopped) {
        try {
          const res = await fetch("/api/v1" + path, { headers: { Authorization: "Bearer " + state.token, Accept: "text/event-stream" }, signal: ctl.signal });
          if (res.status === 401) { signOut("Your session expired."); return; }
          if (!res.ok || !res.body) throw new Error("stream " + res.status);
          setLive(true); delay = 1000;
          const reader = res.body.getReader(), dec = new TextDecoder();
          let buf = "";
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buf += dec.decode(value, { stream: true });
            let i;
            while ((i = buf.indexOf("\n\n")) >= 0) {
              const block = buf.slice(0, i); buf = buf.slice(i + 2);
              let ev = "message", data = "";
              for (const line of block.split("\n")) {
                if (line.startsWith("event: ")) ev = line.slice(7);
                else if (line.startsWith("data: ")) data += line.slice(6);
              }
              if (data) { try { onEvent(ev, JSON.parse(data)); } catch (e) { console.error(e); } }
            }
          }
        } catch (e) {
          if (stopped) return;
        }
        setLive(false);
        await new Promise(r => setTimeout(r, delay));
        delay = Math.min(delay * 2, 15000);
      }
    }
    loop();
    const stop = () => { stopped = true; ctl.abort(); };
    state.streams.push(stop);
    return stop;
  }
  function stopStreams() { state.streams.splice(0).forEach(s => s()); $("#live").hidden = true; }
  function setLive(on) {
    $("#live").classList.toggle("on", on);
    $("#live-text").textContent = on ? "Live" : "reconnecting";
  }

  // ---------- sign-in ----------
  async function signIn(token) {
    state.token = token.trim();
    const res = await fetch("/api/v1/me", { headers: { Authorization: "Bearer " + state.token } });
    if (!res.ok) {
      state.token = "";
      const msg = res.status === 401 ? "That token was not accepted (invalid, expired or for another server)." : "Sign-in failed (HTTP " + res.status + ").";
      throw new Error(msg);
    }
    state.me = await res.json();
    sessionStorage.setItem("crm.token", state.token);
  }
  function signOut(msg) {
    stopStreams();
    state.token = ""; state.me = null;
    sessionStorage.removeItem("crm.token");
    $("#app").hidden = true; $("#signin").hidden = false;
    const err = $("#signin-error");
    err.hidden = !msg; err.textContent = msg || "";
    $("#token").value = "";
  }
  function showApp() {
    $("#signin").hidden = true; $("#app").hidden = false;
    const me = state.me;
    $("#whoami").textContent = me.subject + " · " + me.role;
    document.querySelectorAll("[data-perm]").forEach(a => { a.hidden = !can(a.dataset.perm); });
    route();
  }

  // ---------- routing ----------
  function route() {
    stopStreams();
    setLive(false);
    const hash = location.hash.replace(/^#\/?/, "");
    const [page, ...rest] = hash.split("/");
    const id = decodeURIComponent(rest.join("/"));
    document.querySelectorAll("#nav a").forEach(a => a.classList.toggle("active", a.dataset.nav === (page || "overview")));
    const view = $("#view");
    view.replaceChildren();
    window.scrollTo(0, 0);
    const pages = { "": overview, lead: leadPage, account: accountPage, alerts: alertsPage, models: modelsPage };
    (pages[page] || overview)(view, id).catch(e => view.append(h("p", { class: "error" }, e.message)));
  }

  // ---------- overview ----------
  const RANGES = { "24h": { ms: 864e5, bucket: "hour", label: "Last 24 hours" }, "7d": { ms: 7 * 864e5, bucket: "day", label: "Last 7 days" }, "30d": { ms: 30 * 864e5, bucket: "day", label: "Last 30 days" } };
  function funnelQuery() {
    const r = RANGES[state.range];
    const q = new URLSearchParams({ bucket: r.bucket });
    if (r.ms !== 864e5) {
      const to = new Date(Math.ceil(Date.now() / 60e3) * 60e3);
      q.set("to", to.toISOString().replace(".000", ""));
      q.set("from", new Date(to - r.ms).toISOString().replace(".000", ""));
    }
    if (state.groupBy) q.set("group_by", state.groupBy);
    return q.toString();
  }

  async function overview(view) {
    const hour = new Date().getHours();
    const greet = hour < 12 ? "Good morning" : hour < 18 ? "Good afternoon" : "Good evening";
    const seg = h("div", { class: "seg", role: "tablist" }, Object.keys(RANGES).map(k =>
      h("button", { type: "button", class: k === state.range ? "on" : "", "data-range": k, onclick: () => { state.range = k; route(); } }, RANGES[k].label.replace("Last ", ""))));
    const group = h("select", { id: "group-by", "aria-label": "Group by", onchange: e => { state.groupBy = e.target.value; route(); } },
      [["", "All sources"], ["source", "By source"], ["campaign", "By campaign"], ["owner", "By owner"]].map(([v, l]) => h("option", { value: v, selected: v === state.groupBy }, l)));
    view.append(
      h("div", { class: "page-head" },
        h("div", {}, h("h1", {}, `${greet}, ${state.me.subject}`), h("div", { class: "sub" }, state.me.role === "rep" ? "Your pipeline, your leads, your alerts — updated live." : "Your revenue funnel, hot leads and risks — updated live.")),
        h("div", { class: "controls" }, seg, group)),
      h("div", { class: "kpis", id: "kpis" }, [0, 1, 2, 3, 4].map(() => h("div", { class: "kpi" }, h("div", { class: "skeleton", style: "min-height:58px" })))),
      h("div", { class: "grid" },
        h("section", { class: "card span-7", id: "funnel-card" }, h("div", { class: "card-head" }, h("h2", {}, "Funnel"), h("span", { class: "hint", id: "funnel-hint" }, RANGES[state.range].label)), h("div", { id: "funnel" }, h("div", { class: "skeleton" }))),
        h("section", { class: "card span-5" }, h("div", { class: "card-head" }, h("h2", {}, "Live alerts"), h("a", { href: "#/alerts", class: "hint" }, "All alerts →")), h("div", { class: "feed", id: "feed" }, h("div", { class: "skeleton" }))),
        h("section", { class: "card span-12" }, h("div", { class: "card-head" }, h("h2", {}, "Funnel over time"), h("span", { class: "hint" }, "New cohorts per " + RANGES[state.range].bucket + ", by stage reached")), h("div", { id: "trend" }, h("div", { class: "skeleton" }))),
        h("section", { class: "card span-7" }, h("div", { class: "card-head" }, h("h2", {}, "Hot leads"), h("span", { class: "hint" }, "Highest lead score, not yet won")), h("div", { id: "hot" }, h("div", { class: "skeleton" }))),
        h("section", { class: "card span-5" }, h("div", { class: "card-head" }, h("h2", {}, "Accounts at risk"), h("span", { class: "hint" }, "Highest churn score")), h("div", { id: "risk" }, h("div", { class: "skeleton" }))),
        can("read:models") && h("section", { class: "card span-6" }, h("div", { class: "card-head" }, h("h2", {}, "Model health"), h("a", { href: "#/models", class: "hint" }, "Details →")), h("div", { id: "health" }, h("div", { class: "skeleton" }))),
        can("read:pipeline") && h("section", { class: "card span-6" }, h("div", { class: "card-head" }, h("h2", {}, "Pipeline"), h("span", { class: "hint" }, "Last hour")), h("div", { id: "pipeline" }, h("div", { class: "skeleton" })))));
    stream("/funnel/live?" + funnelQuery(), (ev, f) => { if (ev === "funnel") renderFunnel(f); });
    loadHot(0);
    api("/accounts/at-risk?limit=8").then(renderRisk).catch(e => $("#risk").replaceChildren(h("p", { class: "error" }, e.message)));
    api("/alerts?limit=12").then(a => { renderFeed(a.alerts); stream("/alerts/stream", (ev, al) => { if (ev === "alert") addAlert(al, true); }); }).catch(e => $("#feed").replaceChildren(h("p", { class: "error" }, e.message)));
    if (can("read:models")) api("/models").then(renderHealth).catch(() => {});
    if (can("read:pipeline")) api("/pipeline").then(renderPipeline).catch(() => {});
  }

  const LABELS = { visitor: "Visitors", lead: "Leads", mql: "MQLs", sql: "SQLs", opportunity: "Opportunities", won: "Won deals" };
  const stageLabel = s => LABELS[s] || s.replace(/_/g, " ");

  // insights picks the numbers a leader asks first: overall win rate, the
  // weakest step and the strongest step.
  function insights(stages) {
    if (stages.length < 2) return null;
    const steps = stages.slice(1).map((s, i) => ({ from: stages[i].stage, to: s.stage, rate: s.conversion }));
    const worst = steps.reduce((a, b) => (b.rate < a.rate ? b : a));
    const best = steps.reduce((a, b) => (b.rate > a.rate ? b : a));
    const last = stages[stages.length - 1];
    const tile = (label, value, sub, cls) => h("div", { class: "stat " + (cls || "") }, h("div", { class: "label" }, label), h("div", { class: "value" }, value), h("div", { class: "muted" }, sub));
    return h("div", { class: "stat-grid insights" },
      tile("End-to-end conversion", pct(last.from_start, 2), `${fmt(last.count)} ${stageLabel(last.stage).toLowerCase()} from ${fmt(stages[0].count)} ${stageLabel(stages[0].stage).toLowerCase()}`),
      tile("Biggest drop-off", pct(1 - worst.rate, 0) + " lost", `${worst.from} → ${worst.to}`, "warn"),
      tile("Strongest step", pct(best.rate, 0), `${best.from} → ${best.to}`, "good"));
  }

  function renderFunnel(f) {
    const box = $("#funnel");
    if (!box) return;
    const stages = f.stages, top = Math.max(1, stages[0].count);
    $("#kpis").replaceChildren(...stages.slice(0, 5).map((s, i) => h("div", { class: "kpi", style: `--c:${STAGE_COLORS[i]}`, "data-kpi": s.stage },
      h("div", { class: "label" }, stageLabel(s.stage)),
      h("div", { class: "value", "data-count": s.count }, fmt(s.count)),
      h("div", { class: "delta" }, i === 0 ? "entered the funnel" : h("span", {}, h("b", {}, pct(s.conversion)), " of previous stage")))));
    box.replaceChildren(h("div", { class: "funnel", id: "funnel-bars" }, stages.map((s, i) => {
      const w = Math.max(0.4, s.count / top * 100);
      const narrow = w < 18;
      return h("div", { class: "funnel-row", "data-stage": s.stage, "data-count": s.count },
        h("div", { class: "name" }, stageLabel(s.stage)),
        h("div", { class: "bar" }, h("div", { class: "fill" + (narrow ? " narrow" : ""), style: `width:${w}%;--c:${STAGE_COLORS[i]}` }, fmt(s.count)),
          narrow ? h("div", { class: "outside", style: `left:${w}%` }, fmt(s.count)) : null),
        h("div", { class: "conv" }, i === 0 ? "100%" : pct(s.conversion), h("small", {}, i === 0 ? "entry" : pct(s.from_start) + " overall")));
    })), insights(stages));
    if (f.groups && f.groups.length) {
      const rows = f.groups.slice().sort((a, b) => b.stages[0].count - a.stages[0].count).slice(0, 8);
      box.append(h("table", { style: "margin-top:16px" }, h("thead", {}, h("tr", {}, h("th", {}, f.group_by), stages.map(s => h("th", { class: "num" }, s.stage)), h("th", { class: "num" }, "win rate"))),
        h("tbody", {}, rows.map(g => h("tr", {}, h("td", {}, g.group || "(none)"), g.stages.map(s => h("td", { class: "num" }, fmt(s.count))), h("td", { class: "num" }, pct(g.stages[g.stages.length - 1].from_start)))))));
    }
    // Trend: per bucket, one line per stage (summed over groups).
    const byBucket = new Map();
    for (const p of f.series) {
      const t = new Date(p.bucket).getTime();
      const acc = byBucket.get(t) || stages.map(() => 0);
      p.counts.forEach((c, i) => acc[i] += c);
      byBucket.set(t, acc);
    }
    const series = stages.map((s, i) => ({ name: s.stage, color: HEX[i], points: [...byBucket].map(([t, c]) => ({ t, v: c[i] })) }));
    const trend = $("#trend");
    const w = Math.max(320, trend.clientWidth || 900);
    trend.replaceChildren(Charts.line(series, { width: w, height: 240, label: "funnel over time" }), h("div", { class: "legend" }, stages.map((s, i) => h("span", { style: `--c:${HEX[i]}` }, s.stage))));
  }

  function scoreCell(score) {
    const c = score >= 70 ? "var(--bad)" : score >= 40 ? "var(--warn)" : "#2563eb";
    return h("span", { class: "score" }, h("span", { class: "meter", style: `--c:${c}` }, h("i", { style: `width:${score}%` })), score);
  }
  const tierBadge = t => h("span", { class: "tier tier-" + t }, t);

  function loadHot(offset) {
    state.hotOffset = offset;
    api("/leads/hot?limit=8&offset=" + offset).then(renderHot).catch(e => $("#hot").replaceChildren(h("p", { class: "error" }, e.message)));
  }
  function renderHot(res) {
    const box = $("#hot");
    if (!box) return;
    if (!res.leads.length) { box.replaceChildren(h("div", { class: "empty" }, "No scored leads yet.")); return; }
    box.replaceChildren(h("table", { id: "hot-table" },
      h("thead", {}, h("tr", {}, h("th", {}, "Lead"), h("th", {}, "Score"), h("th", { class: "hide-sm" }, "Why"), h("th", { class: "hide-sm" }, "Owner"), h("th", { class: "num hide-sm" }, "Last activity"))),
      h("tbody", {}, res.leads.map(l => h("tr", { "data-lead": l.lead_id },
        h("td", {}, h("a", { class: "who", href: "#/lead/" + encodeURIComponent(l.lead_id) }, h("span", { class: "avatar", style: `--c:${colorFor(l.name || l.lead_id)}` }, initials(l.name || l.lead_id)),
          h("span", { class: "txt" }, h("b", {}, l.name || l.lead_id), h("small", {}, (l.company || l.account_id || "") + " · " + l.lead_id)))),
        h("td", {}, scoreCell(l.score), " ", tierBadge(l.tier)),
        h("td", { class: "hide-sm" }, h("div", { class: "reason", title: l.top_reason }, l.top_reason || "—")),
        h("td", { class: "hide-sm" }, l.owner_id),
        h("td", { class: "num hide-sm muted" }, ago(l.event_time)))))),
      h("div", { class: "pager" },
        h("button", { class: "btn btn-sm", type: "button", disabled: res.page.offset === 0, onclick: () => loadHot(Math.max(0, res.page.offset - res.page.limit)) }, "← Previous"),
        h("button", { class: "btn btn-sm", type: "button", disabled: res.page.next_offset == null, onclick: () => loadHot(res.page.next_offset) }, "Next →")));
  }

  function renderRisk(res) {
    const box = $("#risk");
    if (!res.accounts.length) { box.replaceChildren(h("div", { class: "empty" }, "No accounts at risk.")); return; }
    box.replaceChildren(h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Account"), h("th", {}, "Churn risk"), h("th", { class: "num" }, "MRR"))),
      h("tbody", {}, res.accounts.map(a => h("tr", {},
        h("td", {}, h("a", { class: "who", href: "#/account/" + encodeURIComponent(a.account_id) }, h("span", { class: "avatar", style: `--c:${colorFor(a.account_id)}` }, initials(a.plan || a.account_id)),
          h("span", { class: "txt" }, h("b", {}, a.account_id), h("small", { title: a.top_reason }, a.top_reason || a.plan)))),
        h("td", {}, scoreCell(a.score)),
        h("td", { class: "num" }, "€" + fmt(Math.round(a.mrr))))))));
  }

  const ICON_PATHS = {
    hot_lead: "M12 2c1 3-1 5-1 7 0 1.5 1 2.5 2 2.5S15 10 15 8c2 2 3 4.5 3 7a6 6 0 0 1-12 0c0-4 3-6 3-9 1 1 1.5 2 1.5 3C11 7 12 5 12 2z",
    abandoned_checkout: "M3 4h2l2.4 10.2a2 2 0 0 0 2 1.6h7.7a2 2 0 0 0 1.9-1.5L21 8H6.2M10 20.5a1 1 0 1 0 0-2 1 1 0 0 0 0 2zm7 0a1 1 0 1 0 0-2 1 1 0 0 0 0 2z",
    churn_risk: "M12 3 2 20h20L12 3zm0 6v5m0 3v.5",
    other: "M18 16v-5a6 6 0 0 0-12 0v5l-2 2h16l-2-2zM10 20a2 2 0 0 0 4 0",
  };
  const ICON_COLORS = { hot_lead: "#4f46e5", abandoned_checkout: "#d97706", churn_risk: "#dc2626", other: "#64748b" };
  function icon(kind) {
    const k = ICON_PATHS[kind] ? kind : "other";
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 24 24"); svg.setAttribute("width", "20"); svg.setAttribute("height", "20");
    const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    path.setAttribute("d", ICON_PATHS[k]); path.setAttribute("fill", k === "hot_lead" ? ICON_COLORS[k] : "none");
    path.setAttribute("stroke", ICON_COLORS[k]); path.setAttribute("stroke-width", "2"); path.setAttribute("stroke-linecap", "round"); path.setAttribute("stroke-linejoin", "round");
    svg.append(path);
    return svg;
  }
  function alertNode(a, isNew) {
    const canAck = can("ack:alerts") && a.status === "fired";
    const who = a.lead_id ? h("a", { href: "#/lead/" + encodeURIComponent(a.lead_id) }, a.lead_id) : a.account_id ? h("a", { href: "#/account/" + encodeURIComponent(a.account_id) }, a.account_id) : "";
    return h("div", { class: `alert kind-${a.kind} ${a.status}${isNew ? " new" : ""}`, "data-alert-id": a.alert_id },
      h("div", { class: "icon", "aria-hidden": "true" }, icon(a.kind)),
      h("div", {}, h("div", { class: "title" }, a.reason || a.kind.replace(/_/g, " ")),
        h("div", { class: "meta" }, a.kind.replace(/_/g, " "), " · ", who, " · ", a.owner_id, " · ", ago(a.fired_at))),
      canAck ? h("button", { class: "btn btn-sm", type: "button", onclick: async e => {
        e.target.disabled = true;
        try { const upd = await api("/alerts/" + encodeURIComponent(a.alert_id) + "/ack", { method: "POST" }); addAlert(upd, false); toast("Alert acknowledged"); }
        catch (err) { e.target.disabled = false; toast(err.message); }
      } }, "Acknowledge") : h("span", { class: "status" }, a.status === "acknowledged" ? "✓ acknowledged" : a.status));
  }
  function renderFeed(alerts) {
    const feed = $("#feed");
    feed.replaceChildren(...(alerts.length ? alerts.map(a => alertNode(a, false)) : [h("div", { class: "empty", id: "feed-empty" }, "No alerts. All quiet.")]));
  }
  function addAlert(a, live) {
    const feed = $("#feed");
    if (!feed) return;
    const old = feed.querySelector(`[data-alert-id="${CSS.escape(a.alert_id)}"]`);
    const node = alertNode(a, live && !old);
    const empty = $("#feed-empty"); if (empty) empty.remove();
    if (old) old.replaceWith(node); else feed.prepend(node);
    if (live && !old) toast("New alert · " + (a.reason || a.kind.replace(/_/g, " ")));
  }

  function renderHealth(m) {
    const box = $("#health");
    if (!box) return;
    const models = [...new Set(m.versions.map(v => v.model))];
    if (!models.length) { box.replaceChildren(h("div", { class: "empty" }, "No models registered.")); return; }
    box.replaceChildren(h("div", { class: "health" }, models.map(name => {
      const champ = m.versions.find(v => v.model === name && v.champion) || m.versions.find(v => v.model === name);
      const latest = m.latest.filter(x => x.model === name);
      const get = k => latest.find(x => x.metric === k);
      const auc = get("auc"), drift = latest.find(x => x.drift);
      const driftClass = !drift ? "" : drift.value > 0.2 ? "bad" : drift.value > 0.1 ? "warn" : "good";
      return h("div", { class: "model-row" },
        h("div", {}, h("div", { class: "name" }, name + " model"), h("div", { class: "muted" }, "champion " + champ.version + " · " + m.versions.filter(v => v.model === name).length + " versions")),
        h("div", { class: "badges" },
          auc ? h("span", { class: "badge " + (auc.value >= 0.7 ? "good" : auc.value >= 0.6 ? "warn" : "bad") }, "AUC " + auc.value.toFixed(3)) : null,
          drift ? h("span", { class: "badge " + driftClass }, drift.metric.replace(/_/g, " ") + " " + drift.value.toFixed(3)) : null));
    })));
  }

  function renderPipeline(p) {
    const box = $("#pipeline");
    if (!box) return;
    const lag = p.scoring_lag_seconds;
    box.replaceChildren(h("div", { class: "stat-grid" },
      h("div", { class: "stat" }, h("div", { class: "label" }, "Events ingested"), h("div", { class: "value" }, fmt(p.events_total)), Charts.spark(p.throughput.map(x => x.count), HEX[0])),
      h("div", { class: "stat" }, h("div", { class: "label" }, "Ingest delay p50 / p99"), h("div", { class: "value" }, p.ingest_delay_p50_seconds.toFixed(1) + "s / " + p.ingest_delay_p99_seconds.toFixed(1) + "s")),
      h("div", { class: "stat" }, h("div", { class: "label" }, "Scoring lag"), h("div", { class: "value", style: lag > 60 ? "color:var(--bad)" : "" }, lag.toFixed(0) + "s")),
      h("div", { class: "stat" }, h("div", { class: "label" }, "Late events · rejects"), h("div", { class: "value" }, fmt(p.late_events) + " · " + fmt(p.rejects)))));
  }

  // ---------- lead & account pages ----------
  function reasonList(reasons, evidenceHref) {
    if (!reasons || !reasons.length) return h("div", { class: "empty" }, "No reasons recorded.");
    const top = Math.max(...reasons.map(r => Math.abs(r.weight)), 0.0001);
    return h("div", { class: "reasons", id: "reasons" }, reasons.map(r => h("div", { class: "reason-item" },
      h("div", { class: "top" }, h("span", {}, r.label), h("span", { class: "weight" + (r.weight < 0 ? " neg" : "") }, (r.weight >= 0 ? "+" : "") + r.weight.toFixed(2))),
      h("div", { class: "bar" }, h("i", { style: `width:${Math.abs(r.weight) / top * 100}%` })),
      r.evidence.length ? h("div", { class: "evidence" }, h("span", { class: "muted", style: "background:none;padding-left:0" }, "evidence"), r.evidence.map(e => evidenceHref(e))) : null)));
  }
  function timeline(events) {
    if (!events.length) return h("div", { class: "empty" }, "No events.");
    return h("ul", { class: "timeline", id: "timeline" }, events.map(e => {
      const props = e.properties && typeof e.properties === "object" ? Object.entries(e.properties).map(([k, v]) => k + "=" + v).join("  ") : "";
      return h("li", { id: "ev-" + e.event_id, "data-type": e.type },
        h("div", { class: "when" }, when(e.occurred_at)), h("div", { class: "pin", style: `--c:${colorFor(e.type)}` }),
        h("div", { class: "what" }, h("b", {}, e.type.replace(/_/g, " ")), e.lead_id ? h("span", { class: "muted" }, " · " + e.lead_id) : null, h("small", {}, [e.source, props].filter(Boolean).join(" · "))));
    }));
  }
  function evidenceLink(id) {
    return h("a", { href: "#", onclick: ev => { ev.preventDefault(); const li = document.getElementById("ev-" + id); if (li) { li.classList.add("hl"); li.scrollIntoView({ behavior: "smooth", block: "center" }); } else toast("Event " + id + " is older than the timeline shows"); } }, id);
  }
  function historyChart(history, label) {
    if (!history.length) return h("div", { class: "empty" }, "No score history.");
    const box = h("div", { id: "history" });
    const pts = history.map(p => ({ t: new Date(p.event_time).getTime(), v: p.score }));
    requestAnimationFrame(() => box.replaceChildren(Charts.line([{ name: label, color: HEX[0], points: pts }], { width: Math.max(320, box.clientWidth || 700), height: 220, yMax: 100, yFormat: v => String(Math.round(v)), label })));
    return box;
  }

  async function leadPage(view, id) {
    view.append(h("a", { class: "back", href: "#/" }, "← Overview"), h("div", { class: "skeleton" }));
    let d;
    try { d = await api("/leads/" + encodeURIComponent(id)); }
    catch (e) { view.replaceChildren(h("a", { class: "back", href: "#/" }, "← Overview"), h("div", { class: "card" }, h("h2", {}, e.status === 404 ? "Lead not found" : "Could not load the lead"), h("p", { class: "muted" }, e.status === 404 ? `No lead ${id} that you can see.` : e.message))); return; }
    const p = d.profile, cur = d.current;
    const color = !cur ? "#94a3b8" : cur.score >= 70 ? "#dc2626" : cur.score >= 40 ? "#d97706" : "#2563eb";
    view.replaceChildren(h("a", { class: "back", href: "#/" }, "← Overview"),
      h("div", { class: "grid" },
        h("section", { class: "card span-7" },
          h("div", { class: "profile" }, h("div", { class: "avatar" }, initials(p.name || d.lead_id)),
            h("div", {}, h("h1", { id: "lead-name" }, p.name || d.lead_id), h("div", { class: "muted" }, [p.title, p.company].filter(Boolean).join(" at ") || d.lead_id))),
          h("dl", { class: "facts" },
            [["Lead", d.lead_id], ["Account", p.account_id ? h("a", { href: "#/account/" + encodeURIComponent(p.account_id) }, p.account_id) : "—"], ["Owner", p.owner_id || "—"], ["Email", p.email || "—"], ["Phone", p.phone || "—"], ["Country", p.country || "—"],
             ["First source", p.source || "—"], ["First seen", p.events_count ? when(p.first_seen) : "—"], ["Last activity", p.events_count ? ago(p.last_seen) : "—"], ["Events", fmt(p.events_count)]]
              .map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", {}, v))))),
        h("section", { class: "card span-5" }, h("div", { class: "card-head" }, h("h2", {}, "Lead score"), cur ? h("span", { class: "hint" }, "model " + cur.model_version) : null),
          cur ? h("div", { class: "gauge" }, Charts.gauge(cur.score, color), h("div", {}, h("div", {}, tierBadge(cur.tier), d.converted ? h("span", { class: "badge good", style: "margin-left:6px" }, "converted") : null),
            h("div", { class: "muted", style: "margin-top:8px" }, pct(cur.probability, 0) + " predicted conversion"), h("div", { class: "muted" }, "scored " + ago(cur.event_time))))
            : h("div", { class: "empty" }, "Not scored yet.")),
        h("section", { class: "card span-7" }, h("div", { class: "card-head" }, h("h2", {}, "Score history"), h("span", { class: "hint" }, d.history.length + " scores")), historyChart(d.history, "score")),
        h("section", { class: "card span-5" }, h("div", { class: "card-head" }, h("h2", {}, "Why this score"), h("span", { class: "hint" }, "Reasons with evidence")), reasonList(cur && cur.reasons, evidenceLink)),
        h("section", { class: "card span-12" }, h("div", { class: "card-head" }, h("h2", {}, "Timeline"), h("span", { class: "hint" }, "Newest first")), timeline(d.timeline))));
  }

  async function accountPage(view, id) {
    view.append(h("a", { class: "back", href: "#/" }, "← Overview"), h("div", { class: "skeleton" }));
    let d;
    try { d = await api("/accounts/" + encodeURIComponent(id)); }
    catch (e) { view.replaceChildren(h("a", { class: "back", href: "#/" }, "← Overview"), h("div", { class: "card" }, h("h2", {}, e.status === 404 ? "Account not found" : "Could not load the account"), h("p", { class: "muted" }, e.message))); return; }
    const cur = d.current, p = d.profile;
    const color = !cur ? "#94a3b8" : cur.score >= 70 ? "#dc2626" : cur.score >= 40 ? "#d97706" : "#059669";
    view.replaceChildren(h("a", { class: "back", href: "#/" }, "← Overview"),
      h("div", { class: "grid" },
        h("section", { class: "card span-7" }, h("div", { class: "profile" }, h("div", { class: "avatar" }, initials(p.company || id)), h("div", {}, h("h1", {}, p.company || id), h("div", { class: "muted" }, id + " · " + (d.plan || "no plan") + (d.mrr ? " · €" + fmt(Math.round(d.mrr)) + " MRR" : "")))),
          h("dl", { class: "facts" }, [["Owner", p.owner_id || "—"], ["Leads", fmt(d.leads.length)], ["First seen", p.events_count ? when(p.first_seen) : "—"], ["Last activity", p.events_count ? ago(p.last_seen) : "—"]].map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", {}, v))))),
        h("section", { class: "card span-5" }, h("div", { class: "card-head" }, h("h2", {}, "Churn risk")), cur ? h("div", { class: "gauge" }, Charts.gauge(cur.score, color), h("div", {}, tierBadge(cur.tier), h("div", { class: "muted", style: "margin-top:8px" }, pct(cur.probability, 0) + " churn probability"), d.churned ? h("span", { class: "badge bad" }, "churned") : null)) : h("div", { class: "empty" }, "Not scored yet.")),
        h("section", { class: "card span-7" }, h("div", { class: "card-head" }, h("h2", {}, "Churn score history")), historyChart(d.history, "churn score")),
        h("section", { class: "card span-5" }, h("div", { class: "card-head" }, h("h2", {}, "Why")), reasonList(cur && cur.reasons, evidenceLink)),
        h("section", { class: "card span-6" }, h("div", { class: "card-head" }, h("h2", {}, "Leads")), d.leads.length ? h("table", {}, h("tbody", {}, d.leads.map(l => h("tr", {}, h("td", {}, h("a", { href: "#/lead/" + encodeURIComponent(l.lead_id) }, l.name || l.lead_id)), h("td", {}, scoreCell(l.score)), h("td", {}, tierBadge(l.tier)))))) : h("div", { class: "empty" }, "No scored leads.")),
        h("section", { class: "card span-6" }, h("div", { class: "card-head" }, h("h2", {}, "Timeline")), timeline(d.timeline))));
  }

  // ---------- alerts & models pages ----------
  async function alertsPage(view) {
    const status = h("select", { "aria-label": "Status", onchange: () => load() }, [["", "All statuses"], ["fired", "Open"], ["acknowledged", "Acknowledged"], ["retracted", "Retracted"]].map(([v, l]) => h("option", { value: v }, l)));
    view.append(h("div", { class: "page-head" }, h("div", {}, h("h1", {}, "Alerts"), h("div", { class: "sub" }, "New alerts appear here as they fire.")), h("div", { class: "controls" }, status)),
      h("section", { class: "card" }, h("div", { class: "feed", id: "feed", style: "max-height:none" }, h("div", { class: "skeleton" }))));
    async function load() {
      const q = status.value ? "&status=" + status.value : "";
      renderFeed((await api("/alerts?limit=100" + q)).alerts);
    }
    await load();
    stream("/alerts/stream", (ev, a) => { if (ev === "alert" && (!status.value || status.value === a.status)) addAlert(a, true); });
  }

  function metricsText(m) {
    if (!m || typeof m !== "object") return String(m == null ? "—" : m);
    return Object.entries(m).map(([k, v]) => k.replace(/_/g, " ") + " " + (typeof v === "number" ? (Number.isInteger(v) ? fmt(v) : v.toFixed(3)) : v)).join(" · ");
  }

  async function modelsPage(view) {
    view.append(h("div", { class: "page-head" }, h("div", {}, h("h1", {}, "Model health"), h("div", { class: "sub" }, "Versions, champions, and how their metrics move — last 48 hours."))),
      h("div", { class: "grid", id: "models" }, h("div", { class: "skeleton span-12" })));
    const [m, s] = await Promise.all([api("/models"), api("/models/metrics?bucket=hour")]);
    const grid = $("#models");
    grid.replaceChildren();
    const keys = [...new Set(s.series.map(x => x.model + "\u0000" + x.metric))];
    if (!keys.length) grid.append(h("section", { class: "card span-12" }, h("div", { class: "empty" }, "No model metrics in the last 48 hours.")));
    for (const key of keys) {
      const [model, metric] = key.split("\u0000");
      const rows = s.series.filter(x => x.model === model && x.metric === metric);
      const series = rows.map((x, i) => ({ name: x.model_version, color: HEX[i % HEX.length], points: x.points.map(p => ({ t: new Date(p.at).getTime(), v: p.value })) }));
      const vals = series.flatMap(x => x.points.map(p => p.v));
      const lo = Math.min(...vals), hi = Math.max(...vals), pad = (hi - lo) * 0.6 || Math.abs(hi) * 0.1 || 0.1;
      const yMin = rows[0].drift ? 0 : Math.max(0, Math.floor((lo - pad) * 100) / 100);
      const yMax = Math.ceil((hi + pad) * 100) / 100;
      const hint = rows[0].drift ? "drift · lower is better" : /loss|error|brier/.test(metric) ? "lower is better" : "higher is better";
      const box = h("div", {});
      grid.append(h("section", { class: "card span-6" }, h("div", { class: "card-head" }, h("h2", {}, model + " model · " + metric.replace(/_/g, " ")), h("span", { class: "hint" }, hint)),
        box, h("div", { class: "legend" }, series.map(x => h("span", { style: `--c:${x.color}` }, x.name)))));
      requestAnimationFrame(() => box.append(Charts.line(series, { width: Math.max(320, box.clientWidth || 600), height: 200, area: false, yMin, yMax, yFormat: v => v.toFixed(2), label: model + " " + metric })));
    }
    grid.append(h("section", { class: "card span-12" }, h("div", { class: "card-head" }, h("h2", {}, "Registered versions")),
      h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Model"), h("th", {}, "Version"), h("th", {}, "Status"), h("th", { class: "hide-sm" }, "Holdout metrics"), h("th", { class: "num" }, "Created"))),
        h("tbody", {}, m.versions.map(v => h("tr", {}, h("td", {}, v.model), h("td", {}, h("b", {}, v.version), v.champion ? h("span", { class: "badge good", style: "margin-left:6px" }, "champion") : null), h("td", {}, v.status),
          h("td", { class: "hide-sm" }, metricsText(v.metrics)), h("td", { class: "num muted" }, when(v.created_at))))))));
  }

  // ---------- boot ----------
  $("#signin-form").addEventListener("submit", async e => {
    e.preventDefault();
    const btn = $("#signin-button"), err = $("#signin-error");
    btn.disabled = true; err.hidden = true;
    try { await signIn($("#token").value); showApp(); }
    catch (ex) { err.textContent = ex.message; err.hidden = false; }
    finally { btn.disabled = false; }
  });
  $("#signout").addEventListener("click", () => signOut());
  window.addEventListener("hashchange", () => { if (state.me) route(); });
  (async () => {
    if (state.token) {
      try { await signIn(state.token); showApp(); return; } catch (_) { /* fall through */ }
    }
    signOut();
  })();
})();
