// claimline console: plain JavaScript on the gateway's /v1 API. No third-party code, no inline script.
// Data is only ever put into the page as text (textContent), never as HTML.
"use strict";

const STATUSES = ["new", "in_progress", "waiting_on_payer", "appealed", "resolved", "written_off"];
const CATEGORIES = [
  "denied", "partially_denied", "underpaid", "reversed", "needs_review", "awaiting_auth", "coding_rule",
  "frequency_limit", "rejection", "balancing_exception", "recoupment", "claim_rejected",
];
const COLORS = ["#0b5cad", "#b42318", "#8a5a00", "#1a7f37", "#6941c6", "#667085"];
let me = null;

// ------------------------------------------------------------------ helpers

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const SVG = "http://www.w3.org/2000/svg";
function s(tag, attrs, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = String(text);
  return el;
}

const usd = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" });
function money(v) { return v === null || v === undefined ? "—" : usd.format(Number(v)); }
function label(v) { return v ? String(v).replaceAll("_", " ") : "—"; }
function daysUntil(d) {
  if (!d) return null;
  const today = new Date(); today.setHours(0, 0, 0, 0);
  return Math.round((new Date(d + "T00:00:00") - today) / 86400000);
}
function deadlineCell(d) {
  const left = daysUntil(d);
  if (left === null) return h("td", {}, "—");
  const cls = left < 0 ? "overdue" : left <= 14 ? "soon" : "";
  const text = left < 0 ? `${d} (${-left} d overdue)` : `${d} (${left} d left)`;
  return h("td", { class: cls }, text);
}

function say(text, error) {
  const el = document.getElementById("status");
  el.textContent = text || "";
  el.className = error ? "status error" : "status";
}

class ApiError extends Error {
  constructor(status, body) { super(body && body.detail ? body.detail : `HTTP ${status}`); this.status = status; }
}

async function api(method, path, body) {
  const init = { method, credentials: "same-origin", headers: { "X-Claimline-Console": "1" } };
  if (body !== undefined) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
  const r = await fetch(path, init);
  if (r.status === 204) return null;
  const data = await r.json().catch(() => null);
  if (r.status === 401 && path !== "/v1/session") { me = null; signInPage(); throw new ApiError(401, data); }
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

function go(hash) { if (location.hash !== hash) location.hash = hash; else render(); }

function page(title, ...content) {
  const main = document.getElementById("main");
  main.replaceChildren(h("h1", {}, title), ...content);
  document.title = `${title} · claimline`;
  main.focus();
}

function notFound(what) {
  page("Not found", h("p", {}, `There is no ${what} here, or it is not in your practices.`),
    h("p", {}, h("a", { href: "#/queue" }, "Back to the work queue")));
}

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, query] = raw.split("?");
  const parts = path.split("/").map(decodeURIComponent);
  return { route: parts[0] || "queue", arg: parts[1], params: new URLSearchParams(query || "") };
}

// ------------------------------------------------------------------ sign-in

function signInPage() {
  document.getElementById("top").hidden = true;
  const token = h("input", { type: "password", id: "token", name: "token", autocomplete: "off", required: true });
  const form = h("form", { class: "card signin", onsubmit: async (e) => {
    e.preventDefault();
    try {
      await api("POST", "/v1/session", { token: token.value });
      token.value = "";
      say("");
      await render();
    } catch (err) { say(err.status === 401 ? "That token is not valid." : err.message, true); }
  } },
    h("h1", {}, "Sign in to claimline"),
    h("label", { for: "token" }, "API token (or your identity provider's token)", token),
    h("button", { type: "submit" }, "Sign in"),
    h("p", { class: "muted" }, "Your session ends after 30 minutes without use."));
  document.getElementById("main").replaceChildren(form);
  document.title = "Sign in · claimline";
  token.focus();
}

async function whoAmI() {
  me = await api("GET", "/v1/me");
  document.getElementById("top").hidden = false;
  document.getElementById("who").textContent = `${me.username} (${me.role})`;
  document.getElementById("nav-dashboard").hidden = me.role !== "supervisor";
}

// ------------------------------------------------------------------ queue

const FILTERS = ["practice_id", "category", "payer", "status", "assignee", "older_than_days"];

async function queuePage(params) {
  let practices = [];
  try { practices = await api("GET", "/v1/practices"); } catch (err) { practices = []; }
  const form = h("form", { class: "filters card", "aria-label": "Filters", onsubmit: (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    for (const f of FILTERS) { const v = form.elements[f].value.trim(); if (v) q.set(f, v); }
    go(`#/queue?${q}`);
  } });
  const field = (name, text, control) => h("label", { for: `f-${name}` }, text, control);
  const select = (name, options) => h("select", { id: `f-${name}`, name },
    h("option", { value: "" }, "any"),
    options.map(([v, t]) => h("option", { value: v, selected: params.get(name) === v }, t)));
  form.append(
    field("practice_id", "Practice", select("practice_id", practices.map((p) => [p.practice_id, p.name || p.practice_id]))),
    field("category", "Category", select("category", CATEGORIES.map((c) => [c, label(c)]))),
    field("payer", "Payer", h("input", { id: "f-payer", name: "payer", value: params.get("payer") || "", size: 16 })),
    field("status", "Status", select("status", STATUSES.map((c) => [c, label(c)]))),
    field("assignee", "Assignee", h("input", { id: "f-assignee", name: "assignee", value: params.get("assignee") || "", size: 12, placeholder: "me or a username" })),
    field("older_than_days", "Older than (days)", h("input", { id: "f-older_than_days", name: "older_than_days", type: "number", min: 0, max: 3650, value: params.get("older_than_days") || "" })),
    h("button", { type: "submit" }, "Apply filters"),
  );

  const selected = new Set();
  const count = h("span", { "aria-live": "polite" }, "0 selected");
  const assignTo = h("input", { id: "bulk-assignee", size: 12, placeholder: "username" });
  const statusTo = h("select", { id: "bulk-status" }, STATUSES.map((st) => h("option", { value: st }, label(st))));
  async function bulk(body) {
    if (!selected.size) { say("Select items first.", true); return; }
    const results = await api("POST", "/v1/work-items/bulk", { item_ids: [...selected], ...body });
    const failed = results.filter((r) => !r.ok);
    say(`${results.length - failed.length} updated${failed.length ? `, ${failed.length} failed: ${failed.map((r) => r.error).join("; ")}` : ""}.`, failed.length > 0);
    await queuePage(params);
  }
  const bulkBar = h("div", { class: "bulk", role: "group", "aria-label": "Bulk actions on the selected items" },
    count,
    h("button", { type: "button", class: "secondary", onclick: () => bulk({ action: "claim" }) }, "Take selected"),
    h("label", { class: "field", for: "bulk-assignee" }, "Assign to", assignTo),
    h("button", { type: "button", class: "secondary", onclick: () => bulk({ action: "assign", assignee: assignTo.value.trim() || null }) }, "Assign selected"),
    h("label", { class: "field", for: "bulk-status" }, "Status", statusTo),
    h("button", { type: "button", class: "secondary", onclick: () => bulk({ action: "status", status: statusTo.value }) }, "Set status of selected"));

  const body = h("tbody");
  const allBox = h("input", { type: "checkbox", "aria-label": "Select all shown items", onchange: () => {
    for (const box of body.querySelectorAll("input[type=checkbox]")) { box.checked = allBox.checked; box.dispatchEvent(new Event("change")); }
  } });
  const table = h("table", { "aria-label": "Work items, highest priority first" },
    h("thead", {}, h("tr", {}, h("th", {}, allBox), h("th", { class: "num" }, "Priority"), h("th", {}, "Practice"),
      h("th", {}, "Category"), h("th", {}, "What"), h("th", {}, "Payer"), h("th", {}, "Code"), h("th", {}, "Service date"),
      h("th", { class: "num" }, "At risk"), h("th", {}, "Deadline"), h("th", {}, "Status"), h("th", {}, "Assignee"))),
    body);
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "Load more");
  let shown = 0;
  async function load(cursor) {
    const q = new URLSearchParams({ limit: "50" });
    for (const f of FILTERS) if (params.get(f)) q.set(f, params.get(f));
    if (cursor) q.set("cursor", cursor);
    const pageData = await api("GET", `/v1/work-items?${q}`);
    for (const it of pageData.items) {
      const box = h("input", { type: "checkbox", "aria-label": `Select item ${++shown}`, onchange: () => {
        if (box.checked) selected.add(it.item_id); else selected.delete(it.item_id);
        count.textContent = `${selected.size} selected`;
      } });
      body.append(h("tr", { "data-item": it.item_id },
        h("td", {}, box), h("td", { class: "num" }, it.priority), h("td", {}, it.practice_id),
        h("td", {}, h("span", { class: "pill" }, label(it.category))),
        h("td", {}, h("a", { href: `#/item/${it.item_id}` }, it.summary)),
        h("td", {}, it.payer_name || "—"), h("td", {}, it.procedure_code || "—"), h("td", {}, it.service_date || "—"),
        h("td", { class: "num" }, money(it.amount_at_risk)), deadlineCell(it.deadline),
        h("td", {}, label(it.status)), h("td", {}, it.assignee || "—")));
    }
    more.hidden = !pageData.next_cursor;
    more.onclick = () => load(pageData.next_cursor);
    if (!shown) body.append(h("tr", {}, h("td", { colspan: 12 }, "Nothing to work with these filters.")));
  }
  page("Work queue", form, bulkBar, table, more);
  await load(null);
}

// ------------------------------------------------------------------ item

function adjustmentList(line) {
  return h("ul", { class: "plain" }, line.adjustments.map((a) =>
    h("li", {}, h("strong", {}, `${a.group}-${a.reason} ${money(a.amount)}: `), a.meaning)),
    line.remarks.map((r) => h("li", {}, h("strong", {}, `${r.code}: `), r.meaning)));
}

function trail(line) {
  const fmt = (code, mods) => `${code}${mods && mods.length ? "-" + mods.join("-") : ""}`;
  const steps = [];
  if (line.submitted_procedure_code || line.submitted_modifiers.length)
    steps.push(["Submitted (837P)", fmt(line.submitted_procedure_code || line.procedure_code, line.submitted_modifiers)]);
  if (line.acknowledged_procedure_code || line.acknowledged_modifiers)
    steps.push(["Acknowledged (277CA)", fmt(line.acknowledged_procedure_code || line.procedure_code, line.acknowledged_modifiers || [])]);
  steps.push(["Adjudicated (835)", fmt(line.procedure_code, line.modifiers)]);
  return h("dl", { class: "facts" }, steps.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]),
    line.modifier_trail_changed ? [h("dt", {}, ""), h("dd", { class: "flag" }, "The code or modifiers changed on the way")] : []);
}

async function itemPage(id) {
  let ctx, hist;
  try {
    [ctx, hist] = await Promise.all([api("GET", `/v1/work-items/${encodeURIComponent(id)}/context`),
      api("GET", `/v1/work-items/${encodeURIComponent(id)}/history`)]);
  } catch (err) { if (err.status === 404 || err.status === 422) return notFound("work item"); throw err; }
  const it = ctx.item;
  const mine = ctx.lines.find((l) => l.line_number === it.line_number) || null;
  const actions = actionsCard(it);
  const facts = h("div", { class: "card" }, h("dl", { class: "facts" },
    h("dt", {}, "Practice"), h("dd", {}, it.practice_id),
    h("dt", {}, "Category"), h("dd", {}, label(it.category)),
    h("dt", {}, "Queue"), h("dd", {}, label(it.queue)),
    h("dt", {}, "Status"), h("dd", { id: "item-status" }, label(it.status)),
    h("dt", {}, "Assignee"), h("dd", { id: "item-assignee" }, it.assignee || "nobody"),
    h("dt", {}, "Priority"), h("dd", {}, it.priority),
    h("dt", {}, "Dollars at risk"), h("dd", {}, money(it.amount_at_risk)),
    h("dt", {}, "Deadline"), h("dd", {}, it.deadline ? `${it.deadline} (${daysUntil(it.deadline)} days left)` : "none"),
    h("dt", {}, "Payer"), h("dd", {}, it.payer_name || "—")));

  const sections = [h("p", {}, it.summary), h("div", { class: "grid" }, facts, actions)];
  if (mine) {
    sections.push(h("h2", {}, "This line"), h("div", { class: "card" },
      h("div", { class: "money3", role: "group", "aria-label": "Billed, allowed and paid" },
        h("div", {}, "Billed", h("strong", {}, money(mine.charge))),
        h("div", {}, "Allowed", h("strong", {}, money(mine.allowed))),
        h("div", {}, "Paid", h("strong", {}, money(mine.paid)))),
      h("h2", {}, "Adjustments and remarks"), adjustmentList(mine),
      h("h2", {}, "Modifier trail"), trail(mine)));
  }
  const actionsNext = (it.detail.codes || []).filter((c) => c.action);
  if (actionsNext.length) {
    sections.push(h("h2", {}, "Next action"), h("ul", { class: "plain card" },
      actionsNext.map((c) => h("li", {}, h("strong", {}, `${c.kind.toUpperCase()} ${c.code}: `), c.action))));
  }
  if (ctx.lines.length) {
    sections.push(h("h2", {}, "All lines of the claim"), h("table", {},
      h("thead", {}, h("tr", {}, ["Line", "Code", "Service date", "Billed", "Allowed", "Paid", "Category", "Adjustments"]
        .map((t, i) => h("th", { class: i >= 3 && i <= 5 ? "num" : null }, t)))),
      h("tbody", {}, ctx.lines.map((l) => h("tr", { class: l.line_number === it.line_number ? "mine" : null },
        h("td", {}, l.line_number), h("td", {}, [l.procedure_code, ...l.modifiers].join("-")), h("td", {}, l.service_date || "—"),
        h("td", { class: "num" }, money(l.charge)), h("td", { class: "num" }, money(l.allowed)), h("td", { class: "num" }, money(l.paid)),
        h("td", {}, label(l.category), l.underpaid ? h("span", { class: "flag" }, " underpaid") : null, l.reversed ? h("span", { class: "flag" }, " reversal") : null),
        h("td", {}, adjustmentList(l)))))));
  }
  sections.push(h("h2", {}, "Authorization"), h("div", { class: "card", id: "auth" },
    ctx.authorization.length
      ? h("ul", { class: "plain" }, ctx.authorization.map((a) => h("li", {},
        h("span", { class: a.category === "auth_valid" ? "ok" : "flag" }, label(a.category)), ` (${label(a.status)}): ${a.summary}`)))
      : "No authorization problem has been found on this claim."));
  const freq = ctx.frequency;
  sections.push(h("h2", {}, "Frequency in the last 12 months"), h("div", { class: "card", id: "frequency" },
    freq ? [
      h("ul", { class: "plain" }, Object.entries(freq.last_12_months).map(([k, n]) => h("li", {}, `${label(k)}: ${n} session${n === 1 ? "" : "s"}`))),
      h("p", {}, `${freq.sessions.filter((x) => !x.in_your_scope).length} of ${freq.sessions.length} sessions were at practices outside your scope (dates and counts only).`),
    ] : "No sessions are recorded for this patient."));
  if (ctx.claim_items.length) {
    sections.push(h("h2", {}, "Other findings on this claim"), h("ul", { class: "plain card" },
      ctx.claim_items.map((o) => h("li", {}, h("a", { href: `#/item/${o.item_id}` }, o.summary), ` (${label(o.status)})`))));
  }
  const noteText = h("textarea", { id: "note-text", rows: 3, cols: 60, required: true, maxlength: 4000 });
  sections.push(h("h2", {}, "Notes"),
    h("ul", { class: "plain card", id: "notes" }, hist.notes.length ? hist.notes.map((n) => h("li", {}, `${n.author}, ${String(n.written_at).slice(0, 16).replace("T", " ")}: ${n.text}`)) : h("li", {}, "No notes yet.")),
    h("form", { class: "card", onsubmit: async (e) => {
      e.preventDefault();
      await api("POST", `/v1/work-items/${it.item_id}/notes`, { text: noteText.value });
      say("Note added."); await itemPage(id);
    } }, h("label", { class: "field", for: "note-text" }, "Add a note", noteText), h("button", { type: "submit" }, "Add note")),
    h("h2", {}, "History"),
    h("ul", { class: "plain card", id: "history" }, hist.audit.length ? hist.audit.map((a) => h("li", {},
      `${String(a.at).slice(0, 16).replace("T", " ")} ${a.actor}: ${a.action} ${a.after ? JSON.stringify(a.after) : ""}`)) : h("li", {}, "Nothing done yet.")));
  page(`${label(it.category)}: ${it.procedure_code || it.kind}`, ...sections);
}

function actionsCard(it) {
  const assignee = h("input", { id: "assign-to", size: 14, value: it.assignee || "", placeholder: "username" });
  const status = h("select", { id: "new-status" }, STATUSES.map((st) => h("option", { value: st, selected: st === it.status }, label(st))));
  const note = h("input", { id: "status-note", size: 30, placeholder: "why (optional)" });
  const act = (fn) => async () => {
    try { await fn(); await itemPage(it.item_id); say("Saved."); } catch (err) { say(err.message, true); }
  };
  return h("div", { class: "card", role: "group", "aria-label": "Work this item" },
    h("button", { type: "button", onclick: act(() => api("POST", `/v1/work-items/${it.item_id}/claim`)) }, "Take it"),
    h("p", {}, h("label", { class: "field", for: "assign-to" }, "Assign to", assignee),
      h("button", { type: "button", class: "secondary", onclick: act(() => api("POST", `/v1/work-items/${it.item_id}/assign`, { assignee: assignee.value.trim() || null })) }, "Assign")),
    h("p", {}, h("label", { class: "field", for: "new-status" }, "Status", status),
      h("label", { class: "field", for: "status-note" }, "Note", note),
      h("button", { type: "button", class: "secondary", onclick: act(() => api("POST", `/v1/work-items/${it.item_id}/status`, { status: status.value, note: note.value.trim() || null })) }, "Change status")));
}

// ------------------------------------------------------------------ remittances

async function erasPage() {
  const rows = await api("GET", "/v1/remittances?limit=200");
  page("Remittances", h("table", {},
    h("thead", {}, h("tr", {}, h("th", {}, "Trace (check/EFT)"), h("th", {}, "Payer"), h("th", {}, "Payment date"), h("th", { class: "num" }, "Lines"), h("th", { class: "num" }, "Paid"))),
    h("tbody", {}, rows.length ? rows.map((r) => h("tr", {},
      h("td", {}, h("a", { href: `#/era/${encodeURIComponent(r.trace_number)}` }, r.trace_number)),
      h("td", {}, r.payer_name || "—"), h("td", {}, r.payment_date || "—"), h("td", { class: "num" }, r.lines), h("td", { class: "num" }, money(r.paid))))
      : h("tr", {}, h("td", { colspan: 5 }, "No remittances yet.")))));
}

async function eraPage(trace) {
  let era;
  try { era = await api("GET", `/v1/remittances/${encodeURIComponent(trace)}`); } catch (err) { if (err.status === 404) return notFound("remittance"); throw err; }
  const rec = era.reconciliation;
  const recCard = h("div", { class: "card", id: "reconciliation" }, h("dl", { class: "facts" },
    h("dt", {}, "Check/EFT amount (BPR02)"), h("dd", {}, money(era.payment_amount)),
    h("dt", {}, "Lines paid"), h("dd", {}, money(rec.lines_paid)),
    h("dt", {}, "Provider-level adjustments (PLB)"), h("dd", {}, money(rec.provider_adjustments)),
    h("dt", {}, "Lines paid − PLB"), h("dd", {}, money(rec.expected_payment)),
    h("dt", {}, "Reconciled"), h("dd", { class: rec.reconciled ? "ok" : "flag" },
      rec.reconciled ? "Yes: the lines and adjustments add up to the payment."
        : rec.complete ? `No: off by ${money(rec.difference)}.`
          : "Partly: this payment also covers lines of practices outside your scope.")));
  page(`Remittance ${era.trace_number}`, h("p", {}, `${era.payer_name || "Unknown payer"}, paid ${era.payment_date || "—"}`), recCard,
    h("table", { "aria-label": "Remittance lines" },
      h("thead", {}, h("tr", {}, ["Claim / line", "Practice", "Code", "Service date", "Billed", "Allowed", "Paid", "Category", "Adjustments and remarks"]
        .map((t, i) => h("th", { class: i >= 4 && i <= 6 ? "num" : null }, t)))),
      h("tbody", {}, era.lines.map((l) => h("tr", { class: l.underpaid || l.reversed ? "mine" : null },
        h("td", {}, `${l.claim_id} / ${l.line_number}`), h("td", {}, l.practice_id), h("td", {}, [l.procedure_code, ...l.modifiers].join("-")),
        h("td", {}, l.service_date || "—"), h("td", { class: "num" }, money(l.charge)), h("td", { class: "num" }, money(l.allowed)),
        h("td", { class: "num" }, money(l.paid)),
        h("td", {}, label(l.category), l.underpaid ? h("strong", { class: "flag" }, " UNDERPAID") : null, l.reversed ? h("strong", { class: "flag" }, " REVERSAL") : null),
        h("td", {}, adjustmentList(l))))),
      h("tfoot", {}, h("tr", {}, h("th", { colspan: 4 }, "Totals"), h("td", { class: "num" }, money(era.total_charge)), h("td", {}), h("td", { class: "num" }, money(era.total_paid)), h("td", { colspan: 2 })))));
}

// ------------------------------------------------------------------ dashboard

function barChart(title, bars, fmt, width = 640) {
  const rowH = 26, left = 120, height = bars.length * rowH + 10;
  const max = Math.max(...bars.map((b) => b.value), 0) || 1;
  const svg = s("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title });
  bars.forEach((b, i) => {
    const y = 5 + i * rowH, w = ((width - left - 110) * b.value) / max;
    svg.append(s("text", { x: left - 8, y: y + 16, "text-anchor": "end" }, b.label));
    svg.append(s("rect", { x: left, y: y + 3, width: Math.max(w, 1), height: rowH - 8, fill: b.color || COLORS[0] }));
    svg.append(s("text", { x: left + w + 6, y: y + 16 }, fmt(b.value)));
  });
  return h("figure", { class: "card" }, h("figcaption", {}, h("strong", {}, title)), svg);
}

function stackedMonths(title, months, keys, valueOf) {
  const width = 680, height = 240, left = 70, bottom = 30, top = 10;
  const totals = months.map((m) => keys.reduce((t, k) => t + valueOf(m, k), 0));
  const max = Math.max(...totals, 0) || 1;
  const bw = (width - left - 10) / Math.max(months.length, 1);
  const svg = s("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title });
  svg.append(s("text", { x: left - 6, y: top + 10, "text-anchor": "end" }, usd.format(max)));
  svg.append(s("line", { x1: left, y1: height - bottom, x2: width, y2: height - bottom, stroke: "#9aa5b1" }));
  months.forEach((m, i) => {
    let y = height - bottom;
    keys.forEach((k, j) => {
      const v = valueOf(m, k), hgt = ((height - bottom - top) * v) / max;
      if (v > 0) { y -= hgt; svg.append(s("rect", { x: left + i * bw + 4, y, width: bw - 8, height: hgt, fill: COLORS[j % COLORS.length] })); }
    });
    svg.append(s("text", { x: left + i * bw + bw / 2, y: height - 10, "text-anchor": "middle" }, m));
  });
  const legend = h("div", { class: "legend" }, keys.map((k, j) => h("span", {}, h("span", { class: "swatch", style: null, "data-color": j }), label(k))));
  legend.querySelectorAll(".swatch").forEach((sw) => { sw.style.background = COLORS[Number(sw.dataset.color) % COLORS.length]; });
  return h("figure", { class: "card" }, h("figcaption", {}, h("strong", {}, title)), legend, svg);
}

async function dashboardPage(params) {
  const by = ["category", "payer", "practice"].includes(params.get("by")) ? params.get("by") : "category";
  const [stats, aging] = await Promise.all([api("GET", `/v1/stats/denials?by=${by}&months=12`), api("GET", "/v1/stats/aging")]);
  const byKey = {};
  for (const f of stats.series) {
    const t = (byKey[f.key] = byKey[f.key] || { key: f.key, lines: 0, denied: 0, dollars: 0, months: {} });
    t.lines += f.lines; t.denied += f.denied_lines; t.dollars += Number(f.dollars_at_risk); t.months[f.month] = Number(f.dollars_at_risk);
  }
  const ranked = Object.values(byKey).sort((a, b) => b.dollars - a.dollars);
  const top = ranked.slice(0, 5).map((t) => t.key);
  const other = ranked.slice(5);
  const keys = other.length ? [...top, "other"] : top;
  const valueOf = (m, k) => k === "other" ? other.reduce((t, o) => t + (o.months[m] || 0), 0) : (byKey[k].months[m] || 0);
  const choose = h("p", {}, "Break down by: ", ["category", "payer", "practice"].map((b) =>
    [h("a", { href: `#/dashboard?by=${b}`, "aria-current": b === by ? "true" : null }, b), " "]));
  page("Dashboard", choose,
    barChart("Denial rate by month (denied and partially denied lines ÷ adjudicated lines)",
      stats.totals.map((t) => ({ label: t.month, value: t.denial_rate })), (v) => `${(v * 100).toFixed(1)} %`),
    stackedMonths(`Dollars at risk by month and ${by}`, stats.months, keys, valueOf),
    h("table", { "aria-label": `Totals by ${by}` },
      h("thead", {}, h("tr", {}, h("th", {}, by), h("th", { class: "num" }, "Lines"), h("th", { class: "num" }, "Denied"), h("th", { class: "num" }, "Denial rate"), h("th", { class: "num" }, "Dollars at risk"))),
      h("tbody", {}, ranked.map((t) => h("tr", {}, h("td", {}, label(t.key)), h("td", { class: "num" }, t.lines), h("td", { class: "num" }, t.denied),
        h("td", { class: "num" }, `${t.lines ? ((100 * t.denied) / t.lines).toFixed(1) : "0.0"} %`), h("td", { class: "num" }, money(t.dollars)))))),
    h("h2", {}, `Denial rate by month and ${by}`),
    h("table", { "aria-label": `Denial rate by month and ${by}` },
      h("thead", {}, h("tr", {}, h("th", {}, by), stats.months.map((m) => h("th", { class: "num" }, m)))),
      h("tbody", {}, ranked.map((t) => h("tr", {}, h("td", {}, label(t.key)), stats.months.map((m) => {
        const f = stats.series.find((x) => x.key === t.key && x.month === m);
        return h("td", { class: "num" }, f ? `${(f.denial_rate * 100).toFixed(1)} % of ${f.lines}` : "—");
      }))))),
    h("h2", {}, "Aging of open items"),
    h("div", { class: "grid" },
      barChart("Open items by days left to the deadline", aging.by_deadline.map((b, i) => ({ label: b.bucket, value: b.items, color: i === 0 ? "#b42318" : COLORS[0] })), (v) => `${v} items`, 420),
      barChart("Dollars at risk by days left to the deadline", aging.by_deadline.map((b, i) => ({ label: b.bucket, value: Number(b.dollars_at_risk), color: i === 0 ? "#b42318" : COLORS[2] })), money, 420),
      barChart("Open items by age", aging.by_age.map((b) => ({ label: b.bucket, value: b.items })), (v) => `${v} items`, 420)));
}

// ------------------------------------------------------------------ router

async function render() {
  const { route, arg, params } = parseHash();
  if (!me) {
    try { await whoAmI(); } catch (err) { if (err.status !== 401) say(err.message, true); return; }
  }
  if (route === "signin") { go("#/queue"); return; }
  for (const a of document.querySelectorAll("[data-nav]")) {
    if (a.dataset.nav === route || (route === "item" && a.dataset.nav === "queue") || (route === "era" && a.dataset.nav === "eras")) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  try {
    if (route === "queue") await queuePage(params);
    else if (route === "item" && arg) await itemPage(arg);
    else if (route === "eras") await erasPage();
    else if (route === "era" && arg) await eraPage(arg);
    else if (route === "dashboard") await dashboardPage(params);
    else notFound("page");
  } catch (err) {
    if (err.status !== 401) say(err.message, true);
  }
}

window.addEventListener("hashchange", () => { say(""); render(); });
document.addEventListener("DOMContentLoaded", () => {
  // The skip link moves focus to the content without touching the URL (the URL is the page route).
  document.querySelector(".skip").addEventListener("click", (e) => {
    e.preventDefault();
    document.getElementById("main").focus();
  });
  document.getElementById("sign-out").addEventListener("click", async () => {
    await api("DELETE", "/v1/session").catch(() => null);
    me = null; say("Signed out."); signInPage();
  });
  render();
});
