/* 监督工作台 — single page over the hub's /api/v1 (Authorization: Bearer <staff key>).
   Views by location hash: #/queue, #/lead/<id>, #/enterprise/<uscc>, #/dashboard.
   All text from the hub is inserted with textContent, never as HTML. */
"use strict";
(function () {
  const KEY = "zhongshu.console.key";
  const RULES = {
    INSP_DUPLICATE: "重复检查", INSP_MULTI_AGENCY: "多头检查", INSP_NO_PLAN: "无计划检查", INSP_NO_CODE: "未亮码检查",
    INSP_UNCERTIFIED: "执法人员资格不符", INSP_OVER_CAP: "超频检查", PEN_SUMMARY_LIMIT: "简易程序超限",
    PEN_DECISION_OVERDUE: "办案超期", PEN_NO_LEGAL_REVIEW: "未经法制审核", PEN_NOT_RECORDED: "重大处罚未备案",
    PEN_DISCRETION: "裁量越档", PEN_FIRST_VIOLATION: "应免未免", PEN_PUBLICITY_LATE: "公示超期",
    PEN_PUBLICITY_SCOPE: "超范围公示", PEN_PUBLICITY_STALE: "公示未及时撤下", XFER_SUBSTITUTION: "以罚代刑",
    XFER_APPROVAL_LATE: "移送审批超期", XFER_POLICE_NO_DECISION: "公安未及时作出立案决定",
    HOT_ENFORCEMENT_COMPLAINT: "执法投诉印证", HOT_COMPLAINT_CLUSTER: "投诉集中未处置", AGY_FINE_SURGE: "罚没异常增长",
    CR_REPAIR_SLA: "信用修复办理超时",
  };
  const FAMILIES = [["INSP_", "行政检查"], ["PEN_", "行政处罚"], ["XFER_", "行刑衔接"], ["HOT_", "12345热线"],
                    ["AGY_", "机关指标"], ["CR_", "信用修复"]];
  const REGION_NAMES = {
    "330200": "宁波市", "330203": "海曙区", "330205": "江北区", "330206": "北仑区", "330211": "镇海区", "330212": "鄞州区",
    "330213": "奉化区", "330225": "象山县", "330226": "宁海县", "330281": "余姚市", "330282": "慈溪市",
  };
  const SUBJECT_TYPES = { enterprise: "企业", agency: "执法机关", case: "案件", officer: "执法人员", workorder: "工单", decision: "处罚决定" };
  const KIND_NAMES = { workorder: "12345工单", inspection: "行政检查", case: "行政处罚", credit: "信用事件", transfer: "行刑衔接",
                       lead: "监督线索", trigger: "信用触发" };
  const ACTION_NAMES = { raised: "线索产生", claimed: "认领", resolved: "办结", dismissed: "驳回", reopened: "重新打开" };

  const $ = (id) => document.getElementById(id);
  const state = { key: sessionStorage.getItem(KEY), agencies: {}, page: 1, nextPage: null, rows: new Map(),
                  lead: null, stream: null, unseen: 0, ent: null };

  // ------------------------------------------------------------------ helpers

  function h(tag, attrs, ...children) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k === "class") n.className = v;
      else if (k.startsWith("on")) n.addEventListener(k.slice(2), v);
      else n.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) if (c != null && c !== false) n.append(c instanceof Node ? c : String(c));
    return n;
  }

  class ApiError extends Error {
    constructor(status, body) {
      super((body && (body.title || body.detail)) || `HTTP ${status}`);
      this.status = status;
      this.body = body;
    }
  }

  async function api(path, opts = {}) {
    const headers = { Authorization: `Bearer ${state.key}`, Accept: "application/json" };
    if (opts.body !== undefined) headers["Content-Type"] = "application/json";
    const r = await fetch(path, { method: opts.method || "GET", headers,
                                  body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
    let body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    if (r.status === 401 && !opts.signingIn) { signOut("登录已失效，请重新输入密钥。"); }
    if (!r.ok) throw new ApiError(r.status, body);
    return body;
  }

  const pad = (n) => String(n).padStart(2, "0");
  function cst(iso) {  // the instant in 北京时间 as a Date whose UTC fields read as China time
    if (!iso) return null;
    const d = new Date(iso);
    return isNaN(d) ? null : new Date(d.getTime() + 8 * 3600 * 1000);
  }
  function fmtTime(iso, withTime = true) {
    const d = cst(iso);
    if (!d) return "—";
    const day = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
    return withTime ? `${day} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}` : day;
  }
  const dayOf = (iso) => fmtTime(iso, false);
  const regionName = (code) => (code ? (REGION_NAMES[code] || code) : "—");
  const agencyName = (code) => (code ? ((state.agencies[code] || {}).name || code) : "—");
  const ruleName = (code, fallback) => RULES[code] || fallback || code;
  const badge = (cls, text) => h("span", { class: `badge ${cls}` }, text);
  /* summaries written by the projector name agencies by their code: show the name the directory knows */
  const namesFor = (text) => String(text || "").replace(/\b[0-9A-HJ-NPQRTUWXY]{18}\b/g,
    (code) => (state.agencies[code] ? state.agencies[code].name : code));

  function toast(text) {
    const t = $("toast");
    t.textContent = text;
    t.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { t.hidden = true; }, 4000);
  }

  // ------------------------------------------------------------------ sign-in

  async function signIn(key) {
    state.key = key;
    try {
      await api("/api/v1/leads?page_size=1", { signingIn: true });
    } catch (e) {
      state.key = null;
      if (e.status === 401) throw new Error("密钥无效或已被吊销。");
      if (e.status === 403) throw new Error("该密钥的角色无权使用监督工作台（需要监督员或管理员密钥）。");
      throw new Error(`无法连接中枢：${e.message}`);
    }
    sessionStorage.setItem(KEY, key);
    await afterSignIn();
  }

  async function afterSignIn() {
    $("nav").hidden = false;
    $("session").hidden = false;
    $("who").textContent = `密钥 ${state.key.slice(0, 15)}…`;
    await loadDirectory();
    startStream();
    if (!location.hash || location.hash === "#/" || location.hash === "#/signin") location.hash = "#/queue";
    else route();
  }

  function signOut(message) {
    sessionStorage.removeItem(KEY);
    state.key = null;
    stopStream();
    $("nav").hidden = true;
    $("session").hidden = true;
    showView("signin");
    $("signin-error").textContent = message || "";
    $("key-input").value = "";
    $("key-input").focus();
  }

  async function loadDirectory() {
    let dir = { agencies: [], regions: [] };
    try { dir = await api("/console/api/directory"); } catch (e) { /* names fall back to codes */ }
    state.agencies = {};
    dir.agencies.forEach((a) => { state.agencies[a.agency_code] = a; });
    const regions = new Set([...dir.regions, ...dir.agencies.map((a) => a.region_code)]);
    if (!regions.size) Object.keys(REGION_NAMES).forEach((r) => regions.add(r));
    for (const id of ["f-region", "d-region"]) {
      const sel = $(id);
      sel.replaceChildren(h("option", { value: "" }, "全部区域"),
        ...[...regions].sort().map((r) => h("option", { value: r }, `${regionName(r)}（${r}）`)));
    }
    const ag = $("f-agency");
    ag.replaceChildren(h("option", { value: "" }, "全部机关"),
      ...dir.agencies.map((a) => h("option", { value: a.agency_code }, a.name)));
    const rule = $("f-rule");
    rule.replaceChildren(h("option", { value: "" }, "全部规则"),
      ...Object.entries(RULES).map(([c, n]) => h("option", { value: c }, `${n}（${c}）`)));
  }

  // ------------------------------------------------------------------ routing

  function showView(name) {
    document.querySelectorAll(".view").forEach((v) => { v.hidden = v.id !== `view-${name}`; });
    document.querySelectorAll("#nav a").forEach((a) => {
      const cur = a.dataset.view === name || (name === "lead" && a.dataset.view === "queue");
      if (cur) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
    });
  }

  function route() {
    if (!state.key) { signOut(); return; }
    const [path, query] = location.hash.slice(1).split("?");
    const parts = path.split("/").filter(Boolean);
    const view = parts[0] || "queue";
    if (view === "lead" && parts[1]) { showView("lead"); openLead(decodeURIComponent(parts[1])); }
    else if (view === "enterprise") { showView("enterprise"); openEnterprise(parts[1] ? decodeURIComponent(parts[1]) : ""); }
    else if (view === "dashboard") { showView("dashboard"); openDashboard(); }
    else { showView("queue"); openQueue(new URLSearchParams(query || "")); }
  }

  // ------------------------------------------------------------------ queue

  const FILTERS = ["rule_code", "status", "region_code", "agency_code", "grade"];
  const FILTER_IDS = { rule_code: "f-rule", status: "f-status", region_code: "f-region", agency_code: "f-agency", grade: "f-grade" };

  function currentFilters() {
    const f = {};
    FILTERS.forEach((k) => { const v = $(FILTER_IDS[k]).value; if (v) f[k] = v; });
    return f;
  }

  function openQueue(params) {
    FILTERS.forEach((k) => { $(FILTER_IDS[k]).value = params.get(k) || ""; });
    state.page = Math.max(1, parseInt(params.get("page") || "1", 10) || 1);
    loadQueue();
  }

  function filtersChanged() {
    const q = new URLSearchParams(currentFilters());
    location.hash = `#/queue${q.toString() ? "?" + q : ""}`;
  }

  async function loadQueue() {
    const q = new URLSearchParams({ ...currentFilters(), page: state.page, page_size: 50 });
    $("queue-count").textContent = "加载中…";
    const seq = (state.queueSeq = (state.queueSeq || 0) + 1);
    let body;
    try { body = await api(`/api/v1/leads?${q}`); } catch (e) {
      if (seq === state.queueSeq) $("queue-count").textContent = `加载失败：${e.message}`;
      return;
    }
    if (seq !== state.queueSeq) return;  // a newer filter change is already loading: drop this answer
    state.nextPage = body.next_page;
    state.rows = new Map();
    const tbody = $("queue-body");
    tbody.replaceChildren(...body.items.map((l) => { const tr = leadRow(l); state.rows.set(l.lead_id, tr); return tr; }));
    tbody.dataset.query = q.toString();  // what the rows answer (tests and tools wait on it)
    $("queue-empty").hidden = body.items.length > 0;
    $("queue-count").textContent = `第 ${state.page} 页，本页 ${body.items.length} 条${body.next_page ? "，还有更多" : ""}`;
    $("page-label").textContent = `第 ${state.page} 页`;
    $("prev").disabled = state.page <= 1;
    $("next").disabled = !body.next_page;
  }

  function leadRow(l) {
    const open = () => { location.hash = `#/lead/${encodeURIComponent(l.lead_id)}`; };
    const subj = l.subject || {};
    return h("tr", { tabindex: "0", "data-lead": l.lead_id,
                     "aria-label": `${ruleName(l.rule_code, l.rule_name)}，${subj.name || subj.id}，${l.status}，按回车查看详情`,
                     onclick: open, onkeydown: (e) => { if (e.key === "Enter") { e.preventDefault(); open(); } } },
      h("td", { class: "time" }, fmtTime(l.detected_at)),
      h("td", {}, ruleName(l.rule_code, l.rule_name), l.grade ? h("span", { class: "grade", title: "12345线索分级" }, l.grade) : null,
        h("span", { class: "rule-code" }, l.rule_code)),
      h("td", {}, badge(`sev-${l.severity}`, l.severity)),
      h("td", {}, subj.name || "—", h("span", { class: "subject-id" }, `${SUBJECT_TYPES[subj.type] || subj.type} ${subj.id}`)),
      h("td", {}, regionName(l.region_code)),
      h("td", {}, agencyName(l.agency_code)),
      h("td", {}, badge(`st-${l.status}`, l.status)),
      h("td", { class: "time" }, l.due_at ? fmtTime(l.due_at, false) : "—"));
  }

  function matchesFilters(l) {
    const f = currentFilters();
    if (f.rule_code && l.rule_code !== f.rule_code) return false;
    if (f.status && l.status !== f.status) return false;
    if (f.agency_code && l.agency_code !== f.agency_code) return false;
    if (f.grade && l.grade !== f.grade) return false;
    if (f.region_code) {
      const prefix = f.region_code.replace(/0+$/, "");
      const p = prefix + "0".repeat(prefix.length % 2);
      if (!(l.region_code || "").startsWith(p)) return false;
    }
    return true;
  }

  // ------------------------------------------------------------------ live updates (SSE over fetch)

  function stopStream() {
    if (state.stream) state.stream.abort();
    state.stream = null;
    setLive(false, "实时更新：未连接");
  }

  function setLive(on, text) {
    const el = $("live");
    el.textContent = text;
    el.classList.toggle("on", on);
  }

  /* EventSource cannot send Authorization, and the stream endpoint takes only the header:
     read the text/event-stream body with fetch and parse it here. */
  async function startStream() {
    stopStream();
    const ctl = new AbortController();
    state.stream = ctl;
    let lastId = null, delay = 1000;
    while (!ctl.signal.aborted && state.key) {
      try {
        const headers = { Authorization: `Bearer ${state.key}`, Accept: "text/event-stream" };
        if (lastId) headers["Last-Event-ID"] = lastId;
        const r = await fetch("/api/v1/leads/stream", { headers, signal: ctl.signal });
        if (r.status === 401) { signOut("登录已失效，请重新输入密钥。"); return; }
        if (!r.ok || !r.body) throw new Error(`HTTP ${r.status}`);
        setLive(true, "实时更新：已连接");
        delay = 1000;
        const reader = r.body.getReader();
        const dec = new TextDecoder();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += dec.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
          let cut;
          while ((cut = buf.indexOf("\n\n")) >= 0) {
            const block = buf.slice(0, cut);
            buf = buf.slice(cut + 2);
            const ev = { event: "message", data: [] };
            block.split("\n").forEach((line) => {
              if (!line || line.startsWith(":")) return;
              const i = line.indexOf(":");
              const field = i < 0 ? line : line.slice(0, i);
              const val = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
              if (field === "data") ev.data.push(val);
              else if (field === "event") ev.event = val;
              else if (field === "id") { ev.id = val; lastId = val; }
            });
            if (ev.event === "lead" && ev.data.length) {
              try { onLead(JSON.parse(ev.data.join("\n"))); } catch (e) { /* a malformed event is skipped */ }
            }
          }
        }
      } catch (e) {
        if (ctl.signal.aborted) return;
      }
      setLive(false, "实时更新：重连中…");
      await new Promise((res) => setTimeout(res, delay));
      delay = Math.min(delay * 2, 15000);
    }
  }

  function onLead(l) {
    const queueVisible = !$("view-queue").hidden;
    const row = state.rows.get(l.lead_id);
    if (row) {
      const fresh = leadRow(l);
      row.replaceWith(fresh);
      state.rows.set(l.lead_id, fresh);
      fresh.classList.add("fresh");
    } else if (queueVisible && state.page === 1 && matchesFilters(l)) {
      const fresh = leadRow(l);
      fresh.classList.add("fresh");
      $("queue-body").prepend(fresh);
      state.rows.set(l.lead_id, fresh);
      $("queue-empty").hidden = true;
      state.unseen += 1;
      clearTimeout(onLead.timer);
      onLead.timer = setTimeout(() => { toast(`收到 ${state.unseen} 条新线索`); state.unseen = 0; }, 600);
    }
    if (state.lead && state.lead.lead_id === l.lead_id && !$("view-lead").hidden && l.version !== state.lead.version) {
      openLead(l.lead_id, true);
    }
  }

  // ------------------------------------------------------------------ lead detail

  async function openLead(id, quiet) {
    if (!quiet) {
      $("lead-title").textContent = "加载中…";
      $("action-msg").textContent = "";
    }
    let l;
    try { l = await api(`/api/v1/leads/${encodeURIComponent(id)}`); } catch (e) {
      $("lead-title").textContent = e.status === 404 ? "线索不存在或不在本密钥的管辖范围内" : `加载失败：${e.message}`;
      return;
    }
    state.lead = l;
    renderLead(l);
    if (!quiet) $("lead-title").focus();
  }

  function renderLead(l) {
    const subj = l.subject || {};
    const title = $("lead-title");
    title.tabIndex = -1;
    title.replaceChildren(`${ruleName(l.rule_code, l.rule_name)} `, badge(`sev-${l.severity}`, `严重程度：${l.severity}`), " ",
                          badge(`st-${l.status}`, l.status));
    const subjectCell = subj.type === "enterprise"
      ? h("a", { href: `#/enterprise/${encodeURIComponent(subj.id)}` }, `${subj.name || subj.id}（${subj.id}）`)
      : `${subj.name ? subj.name + "（" : ""}${subj.id}${subj.name ? "）" : ""}`;
    const facts = [
      ["规则代码", l.rule_code], ["线索编号", l.lead_id],
      ["对象", h("span", {}, `${SUBJECT_TYPES[subj.type] || subj.type}：`, subjectCell)],
      ["执法机关", l.agency_code ? h("a", { href: `#/queue?agency_code=${encodeURIComponent(l.agency_code)}` }, agencyName(l.agency_code)) : "—"],
      ["区域", `${regionName(l.region_code)}${l.region_code ? "（" + l.region_code + "）" : ""}`],
      ["发现时间", fmtTime(l.detected_at)], ["办理期限", l.due_at ? fmtTime(l.due_at) : "—"],
    ];
    if (l.grade) facts.push(["线索分级", `${l.grade}（${{ A: "集中投诉，建议个案监督", B: "反复投诉，建议专项监督", C: "一般，建议制发提醒函" }[l.grade]}）`]);
    $("lead-facts").replaceChildren(...facts.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
    $("lead-explanation").textContent = l.explanation;
    renderEvidence(l, {});
    if (subj.type === "enterprise") evidenceTimes(l);
    renderActions(l);
    $("lead-history").replaceChildren(...(l.history || []).map((x) => h("li", {},
      h("strong", {}, ACTION_NAMES[x.action] || x.action), ` · ${fmtTime(x.at)} · 版本 ${x.version}`,
      x.actor ? ` · ${x.actor}` : "", x.outcome ? h("div", {}, `处置结果：${x.outcome}`) : null,
      x.note ? h("div", { class: "muted" }, `备注：${x.note}`) : null)));
  }

  function renderEvidence(l, times) {
    const items = (l.evidence || []).map((e) => {
      const m = /(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}:\d{2}))?/.exec(e.summary || "");
      const when = times[e.ce_id] ? fmtTime(times[e.ce_id]) : (m ? m[1] + (m[2] ? " " + m[2] : "") : "时间见摘要");
      return h("li", {},
        h("div", {}, h("span", { class: "when" }, when), "　", e.summary),
        h("div", { class: "meta" }, "行政行为码 ",
          h("span", { class: "code" }, e.action_code || (e.topic === "enforcement.inspections" ? "无（未亮码）" : "—")),
          ` · ${e.topic}/${e.partition}/${e.offset}`, e.ce_id ? ` · ce_id ${e.ce_id}` : ""));
    });
    $("lead-evidence").replaceChildren(...(items.length ? items : [h("li", {}, "无证据记录")]));
  }

  /* exact event times for an enterprise's evidence, from its timeline (matched by ce_id) */
  async function evidenceTimes(l) {
    const times = {};
    try {
      for (let page = 1; page && page <= 5;) {
        const body = await api(`/api/v1/enterprises/${encodeURIComponent(l.subject.id)}/timeline?page=${page}&page_size=500`);
        body.items.forEach((i) => { if (i.ce_id) times[i.ce_id] = i.at; });
        page = body.next_page;
      }
    } catch (e) { return; }
    if (state.lead && state.lead.lead_id === l.lead_id) renderEvidence(l, times);
  }

  const ALLOWED = { claim: ["待认领"], resolve: ["处理中"], dismiss: ["处理中"], reopen: ["已办结", "已驳回"] };

  function renderActions(l) {
    $("lead-state").textContent = `当前状态：${l.status} · 版本 ${l.version}${l.assignee ? " · 承办人 " + l.assignee : ""}` +
      (l.outcome ? ` · 处置结果：${l.outcome}` : "");
    document.querySelectorAll("#action-form [data-act]").forEach((b) => {
      b.disabled = !ALLOWED[b.dataset.act].includes(l.status);
    });
  }

  async function act(kind) {
    const l = state.lead;
    if (!l) return;
    const msg = $("action-msg");
    const outcome = $("a-outcome").value.trim();
    const note = $("a-note").value.trim();
    msg.classList.remove("bad");
    if (kind === "resolve" && !outcome) { msg.textContent = "办结须填写处置结果。"; msg.classList.add("bad"); $("a-outcome").focus(); return; }
    if (kind === "dismiss" && !note && !outcome) { msg.textContent = "驳回须填写理由。"; msg.classList.add("bad"); $("a-note").focus(); return; }
    const body = { version: l.version };
    if (note) body.note = note;
    if (outcome && kind !== "claim") body.outcome = outcome;
    msg.textContent = "提交中…";
    let res;
    try {
      res = await api(`/api/v1/leads/${encodeURIComponent(l.lead_id)}/${kind}`, { method: "POST", body });
    } catch (e) {
      msg.classList.add("bad");
      if (e.status === 409) { msg.textContent = `${e.message}。已刷新为最新状态。`; await openLead(l.lead_id, true); return; }
      if (e.status === 422 && e.body && e.body.problems) { msg.textContent = e.body.problems.map((p) => `${p.field}：${p.expected}`).join("；"); return; }
      msg.textContent = `提交失败：${e.message}`;
      return;
    }
    msg.textContent = "已提交，等待记录入档…";
    for (let i = 0; i < 120; i++) {  // the action reaches the projection through the log
      await new Promise((r) => setTimeout(r, 250));
      let cur;
      try { cur = await api(`/api/v1/leads/${encodeURIComponent(l.lead_id)}`); } catch (e) { continue; }
      if (cur.version >= res.version) {
        state.lead = cur;
        renderLead(cur);
        $("a-outcome").value = "";
        $("a-note").value = "";
        $("a-outcome-preset").value = "";
        msg.textContent = `已${{ claim: "认领", resolve: "办结", dismiss: "驳回", reopen: "重新打开" }[kind]}，当前状态：${cur.status}。`;
        return;
      }
    }
    msg.textContent = "已提交；处置记录稍后显示。";
  }

  // ------------------------------------------------------------------ enterprise file

  async function openEnterprise(uscc) {
    $("ent-uscc").value = uscc;
    $("ent-error").textContent = "";
    $("ent-body").hidden = true;
    if (!uscc) { $("ent-uscc").focus(); return; }
    let file;
    try { file = await api(`/api/v1/enterprises/${encodeURIComponent(uscc)}`); } catch (e) {
      $("ent-error").textContent = e.status === 404 ? `中枢没有关于 ${uscc} 的记录（或不在本密钥的管辖范围内）。` : `加载失败：${e.message}`;
      return;
    }
    state.ent = { uscc, page: 1 };
    $("ent-name").textContent = file.name || uscc;
    const credit = file.credit || {};
    const facts = [
      ["统一社会信用代码", file.uscc], ["区域", regionName(file.region_code)],
      ["信用风险分类", credit.risk_class ? `${credit.risk_class} 类` : "未知"], ["严重失信名单", credit.dishonest ? "是" : "否"],
      ["行政检查", `${(file.inspections || []).length} 次`], ["行政处罚案件", `${(file.cases || []).length} 件`],
      ["12345投诉举报", `${(file.complaints || []).length} 件`], ["信用修复触发", `${(file.credit_triggers || []).length} 条`],
      ["未办结线索", (file.open_leads || []).length ? h("span", {}, ...file.open_leads.flatMap((l, i) => [i ? "、" : "",
        h("a", { href: `#/lead/${encodeURIComponent(l.lead_id)}` }, ruleName(l.rule_code, l.rule_name))])) : "无"],
    ];
    $("ent-facts").replaceChildren(...facts.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
    $("ent-timeline").replaceChildren();
    $("ent-body").hidden = false;
    await moreTimeline();
  }

  async function moreTimeline() {
    const st = state.ent;
    if (!st || !st.page) return;
    let body;
    try { body = await api(`/api/v1/enterprises/${encodeURIComponent(st.uscc)}/timeline?page=${st.page}&page_size=100`); } catch (e) {
      $("ent-error").textContent = `时间轴加载失败：${e.message}`;
      return;
    }
    st.page = body.next_page;
    $("ent-more").hidden = !body.next_page;
    $("ent-timeline").append(...body.items.map((i) => {
      const family = i.kind.split(".")[0];
      const text = namesFor(i.summary);
      const link = i.lead_id ? h("a", { href: `#/lead/${encodeURIComponent(i.lead_id)}` }, text) : text;
      return h("li", {},
        h("span", { class: "when" }, fmtTime(i.at)),
        h("span", { class: `kind k-${family}` }, KIND_NAMES[family] || family),
        h("span", {}, link, h("span", { class: "meta" },
          `${i.action_code ? "行政行为码 " + i.action_code + " · " : ""}${i.topic}/${i.partition}/${i.offset}`)));
    }));
  }

  // ------------------------------------------------------------------ dashboard

  const pct = (v) => (v == null ? "—" : `${(v * 100).toFixed(1)}%`);
  const isoDay = (d) => `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;

  async function openDashboard() {
    if (!$("d-to").value) {
      let to = cst(new Date().toISOString());
      try {
        const newest = await api("/api/v1/leads?page_size=1");
        if (newest.items.length) {
          const d = cst(newest.items[0].detected_at);
          to = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0));  // that month's last day
        }
      } catch (e) { /* keep today */ }
      const from = new Date(Date.UTC(to.getUTCFullYear(), to.getUTCMonth() - 5, 1));
      $("d-to").value = isoDay(to);
      $("d-from").value = isoDay(from);
    }
    await loadDashboard();
  }

  function months(from, to) {
    const out = [];
    let y = +from.slice(0, 4), m = +from.slice(5, 7);
    const end = +to.slice(0, 4) * 12 + +to.slice(5, 7);
    while (y * 12 + m <= end && out.length < 24) {
      const last = new Date(Date.UTC(y, m, 0)).getUTCDate();
      const a = `${y}-${pad(m)}-01`, b = `${y}-${pad(m)}-${pad(last)}`;
      out.push({ label: `${y % 100}年${m}月`, from: a < from ? from : a, to: b > to ? to : b });
      m += 1;
      if (m > 12) { m = 1; y += 1; }
    }
    return out;
  }

  async function loadDashboard() {
    const from = $("d-from").value, to = $("d-to").value, region = $("d-region").value;
    $("dash-error").textContent = "";
    const base = (a, b) => `/api/v1/indicators?${new URLSearchParams({ from: a, to: b, ...(region ? { region_code: region } : {}) })}`;
    let all;
    try { all = await api(base(from, to)); } catch (e) { $("dash-error").textContent = `指标加载失败：${e.message}`; return; }
    const by = Object.fromEntries(all.indicators.map((i) => [i.code, i]));
    const cards = ["inspections", "random_share", "joint_share", "action_code_share", "credit_rule_share",
                   "publication_timeliness", "decisions", "fines", "visits_saved", "leads_by_rule"];
    $("dash-cards").replaceChildren(...cards.filter((c) => by[c]).map((c) => {
      const i = by[c];
      const isRatio = i.denominator != null;
      const value = c === "fines" ? `¥${Number(i.value).toLocaleString("zh-CN")}` : isRatio ? pct(i.value) : String(i.value ?? "—");
      return h("div", { class: "kpi", "data-code": c },
        h("div", { class: "name" }, i.name),
        h("div", { class: "value" }, value),
        h("div", { class: "frac" }, isRatio ? `分子 ${i.numerator ?? "—"} / 分母 ${i.denominator}` : c === "fines" ? "元" : "计数"),
        i.error ? h("div", { class: "error" }, i.error) : null,
        h("details", {}, h("summary", {}, "口径"), i.definition));
    }));
    const rules = (by.leads_by_rule && by.leads_by_rule.breakdown) || [];
    ZSCharts.hbars($("chart-rules"), { label: "期间内监督线索数（按规则）",
      items: rules.slice().sort((a, b) => b.count - a.count).map((r) => ({ code: r.rule_code, name: ruleName(r.rule_code, r.rule_name), value: r.count,
        color: ZSCharts.PALETTE[FAMILIES.findIndex(([p]) => r.rule_code.startsWith(p)) % ZSCharts.PALETTE.length] })) });

    const ms = months(from, to);
    const monthly = await Promise.all(ms.map((m) => api(base(m.from, m.to)).catch(() => null)));
    const pick = (res, code) => (res ? res.indicators.find((i) => i.code === code) : null);
    ZSCharts.barLine($("chart-insp"), { label: "行政检查次数（柱）与双随机占比（线），按月",
      categories: ms.map((m) => m.label), barName: "行政检查次数", lineName: "双随机占比",
      bars: monthly.map((r) => (pick(r, "inspections") || {}).value || 0),
      line: monthly.map((r) => { const x = pick(r, "random_share"); return x ? x.value : null; }) });
    ZSCharts.percentLine($("chart-pub"), { label: "处罚决定公示及时率（7个工作日内），按月", name: "公示及时率",
      categories: ms.map((m) => m.label),
      values: monthly.map((r) => { const x = pick(r, "publication_timeliness"); return x ? x.value : null; }),
      notes: monthly.map((r) => { const x = pick(r, "publication_timeliness"); return x ? `${x.numerator ?? "—"}/${x.denominator}` : ""; }) });
    await leadTrend(from, to, region);
  }

  async function leadTrend(from, to, region) {
    const leads = [];
    try {
      for (let page = 1; page && page <= 20;) {
        const q = new URLSearchParams({ page, page_size: 500, ...(region ? { region_code: region } : {}) });
        const body = await api(`/api/v1/leads?${q}`);
        leads.push(...body.items);
        const oldest = body.items.length ? dayOf(body.items[body.items.length - 1].detected_at) : "";
        page = oldest && oldest < from ? null : body.next_page;
      }
    } catch (e) { return; }
    const weekOf = (day) => {
      const d = new Date(`${day}T00:00:00Z`);
      d.setUTCDate(d.getUTCDate() - ((d.getUTCDay() + 6) % 7));
      return isoDay(d);
    };
    const weeks = [];
    for (let d = new Date(`${weekOf(from)}T00:00:00Z`); isoDay(d) <= to; d.setUTCDate(d.getUTCDate() + 7)) weeks.push(isoDay(d));
    const idx = Object.fromEntries(weeks.map((w, i) => [w, i]));
    const series = FAMILIES.map(([prefix, name]) => ({ prefix, name, values: weeks.map(() => 0) }));
    leads.forEach((l) => {
      const day = dayOf(l.detected_at);
      if (day < from || day > to) return;
      const s = series.find((x) => l.rule_code.startsWith(x.prefix));
      const i = idx[weekOf(day)];
      if (s && i != null) s.values[i] += 1;
    });
    ZSCharts.stacked($("chart-trend"), { label: "监督线索按周趋势（按规则类别堆叠）",
      categories: weeks.map((w) => w.slice(5)), series: series.filter((s) => s.values.some((v) => v)) });
  }

  // ------------------------------------------------------------------ wiring

  document.addEventListener("DOMContentLoaded", () => {
    $("signin-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      const key = $("key-input").value.trim();
      $("signin-error").textContent = "";
      if (!key) { $("signin-error").textContent = "请输入工作人员密钥。"; return; }
      try { await signIn(key); } catch (err) { $("signin-error").textContent = err.message; $("key-input").focus(); }
    });
    $("signout").addEventListener("click", () => signOut("已退出登录。"));
    document.querySelector(".skip").addEventListener("click", (e) => { e.preventDefault(); $("main").focus(); });
    Object.values(FILTER_IDS).forEach((id) => $(id).addEventListener("change", filtersChanged));
    $("f-reset").addEventListener("click", () => { location.hash = "#/queue"; });
    $("prev").addEventListener("click", () => { const q = new URLSearchParams({ ...currentFilters(), page: state.page - 1 }); location.hash = `#/queue?${q}`; });
    $("next").addEventListener("click", () => { const q = new URLSearchParams({ ...currentFilters(), page: state.page + 1 }); location.hash = `#/queue?${q}`; });
    document.querySelectorAll("#action-form [data-act]").forEach((b) => b.addEventListener("click", () => act(b.dataset.act)));
    $("a-outcome-preset").addEventListener("change", (e) => { if (e.target.value) $("a-outcome").value = e.target.value; });
    $("ent-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const v = $("ent-uscc").value.trim().toUpperCase();
      location.hash = `#/enterprise/${encodeURIComponent(v)}`;
    });
    $("ent-more").addEventListener("click", moreTimeline);
    $("dash-form").addEventListener("submit", (e) => { e.preventDefault(); loadDashboard(); });
    window.addEventListener("hashchange", route);
    if (state.key) afterSignIn(); else signOut();
  });
})();
