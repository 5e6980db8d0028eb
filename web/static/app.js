// Thermo dashboard: plain JavaScript, no build step.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const state = { token: sessionStorage.getItem("thermo.token") || "", devices: new Map(), es: null, lastEventId: "", selected: 0, replaced: false, retry: null };

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
    }
    for (const k of kids) e.append(k);
    return e;
  }

  async function api(method, path, body, headers) {
    const h = Object.assign({ Authorization: "Bearer " + state.token }, headers || {});
    if (body !== undefined) h["Content-Type"] = "application/json";
    const r = await fetch(path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
    const data = r.status === 204 ? null : await r.json().catch(() => null);
    if (!r.ok) throw new Error((data && (data.detail || data.title)) || ("HTTP " + r.status));
    return data;
  }

  const fmt = (c) => (c === null || c === undefined ? "–" : c.toFixed(1) + " °C");

  // --- sign in -------------------------------------------------------------
  async function signIn(token) {
    state.token = token.trim();
    try {
      const t = await api("GET", "/v1/tenant");
      sessionStorage.setItem("thermo.token", state.token);
      $("who").textContent = t.name || t.id;
      $("signin").hidden = true; $("dashboard").hidden = false; $("signout").hidden = false;
      await Promise.all([loadDevices(), loadAlerts()]);
      connect();
    } catch (e) {
      $("signin-error").textContent = "Sign-in failed: " + e.message;
    }
  }

  async function mint() {
    const r = await fetch("/dev/token", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ tenant: $("tenant").value, subject: "dashboard" }) });
    if (!r.ok) { $("signin-error").textContent = "Dev tokens are only available with thermo serve --dev."; return; }
    const { token } = await r.json();
    $("token").value = token;
    await signIn(token);
  }

  function signOut() {
    sessionStorage.removeItem("thermo.token");
    if (state.es) state.es.close();
    location.reload();
  }

  // --- devices ---------------------------------------------------------------
  async function loadDevices() {
    const { data } = await api("GET", "/v1/readings/latest");
    state.devices.clear();
    for (const d of data) state.devices.set(d.device.id, d);
    renderDevices();
  }

  function renderDevices() {
    const ul = $("devices");
    ul.replaceChildren();
    for (const { device, reading } of state.devices.values()) {
      const li = el("li", { "data-device": device.id, class: device.id === state.selected ? "selected" : "", onclick: () => select(device.id) },
        el("div", { class: "name" }, device.name),
        el("div", { class: "temp" }, fmt(reading && reading.temperatureCelsius)),
        el("div", { class: "meta" }, reading ? new Date(reading.recordedAt).toLocaleTimeString() : "no readings"));
      ul.append(li);
    }
  }

  function updateReading(r) {
    const d = state.devices.get(r.deviceId);
    if (!d) { loadDevices(); return; }
    if (d.reading && new Date(d.reading.recordedAt) > new Date(r.recordedAt)) return;
    d.reading = r;
    renderDevices();
    if (state.selected === r.deviceId) loadChart(r.deviceId);
  }

  async function select(id) {
    state.selected = id;
    renderDevices();
    $("detail").hidden = false;
    $("detail-title").textContent = state.devices.get(id).device.name;
    const [chartRes, weekRes] = await Promise.allSettled([loadChart(id), loadWeekly(id)]);
    if (chartRes.status === "rejected") $("chart").textContent = "Chart unavailable: " + chartRes.reason.message;
    if (weekRes.status === "rejected") $("weekly").textContent = "Statistics unavailable: " + weekRes.reason.message;
  }

  async function loadChart(id) {
    const { data } = await api("GET", `/v1/devices/${id}/readings/hourly?hours=24`);
    $("chart").replaceChildren(chart(data));
  }

  // chart draws min–max bars and the mean line of the hourly breakdown.
  function chart(hours) {
    const ns = "http://www.w3.org/2000/svg", W = 480, H = 160, P = 24;
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    const vals = hours.filter((h) => h.count > 0);
    const add = (tag, a, text) => { const e = document.createElementNS(ns, tag); for (const k in a) e.setAttribute(k, a[k]); if (text) e.textContent = text; svg.append(e); };
    if (!vals.length) { add("text", { x: W / 2, y: H / 2, "text-anchor": "middle", fill: "#667" }, "no readings in the last 24 h"); return svg; }
    let lo = Math.min(...vals.map((h) => h.min)), hi = Math.max(...vals.map((h) => h.max));
    if (hi - lo < 1) { lo -= 0.5; hi += 0.5; }
    const x = (i) => P + (i + 0.5) * ((W - 2 * P) / hours.length);
    const y = (v) => H - P - ((v - lo) / (hi - lo)) * (H - 2 * P);
    const pts = [];
    hours.forEach((h, i) => {
      if (!h.count) return;
      add("line", { x1: x(i), x2: x(i), y1: y(h.min), y2: y(h.max), stroke: "#a9c1f5", "stroke-width": 6 });
      pts.push(`${x(i)},${y(h.avg)}`);
    });
    add("polyline", { points: pts.join(" "), fill: "none", stroke: "#2f6fed", "stroke-width": 2 });
    add("text", { x: 2, y: y(hi) + 4, "font-size": 10, fill: "#667" }, hi.toFixed(1));
    add("text", { x: 2, y: y(lo) + 4, "font-size": 10, fill: "#667" }, lo.toFixed(1));
    return svg;
  }

  async function loadWeekly(id) {
    const w = await api("GET", `/v1/devices/${id}/stats/weekly`);
    const rows = (w.days || []).map((d) => el("tr", {}, el("td", {}, d.date), el("td", {}, String(d.count)), el("td", {}, fmt(d.avg)), el("td", {}, fmt(d.min)), el("td", {}, fmt(d.max))));
    rows.push(el("tr", {}, el("th", {}, "week"), el("th", {}, String(w.count)), el("th", {}, fmt(w.avg)), el("th", {}, fmt(w.min)), el("th", {}, fmt(w.max))));
    $("weekly").replaceChildren(el("table", {}, el("tr", {}, el("th", {}, "day"), el("th", {}, "n"), el("th", {}, "avg"), el("th", {}, "min"), el("th", {}, "max")), ...rows));
  }

  // --- alerts ----------------------------------------------------------------
  async function loadAlerts() {
    const { data } = await api("GET", "/v1/alerts?state=firing&limit=100");
    const ul = $("alerts");
    ul.replaceChildren();
    if (!data.length) ul.append(el("li", { class: "empty" }, "No open alerts."));
    for (const a of data) {
      const d = state.devices.get(a.deviceId);
      const text = `${d ? d.device.name : "device " + a.deviceId}: ${fmt(a.temperatureCelsius)} (${a.rule ? a.rule.condition + " " + a.rule.thresholdCelsius : "rule"}) since ${new Date(a.firedAt).toLocaleTimeString()}`;
      const li = el("li", { "data-alert": a.id, class: a.acknowledgedAt ? "acked" : "" }, el("span", {}, text));
      if (a.acknowledgedAt) li.append(el("span", { class: "ack" }, "acknowledged by " + a.acknowledgedBy));
      else li.append(el("button", { class: "ack-btn", onclick: (ev) => acknowledge(a, ev.target) }, "Acknowledge"));
      ul.append(li);
    }
  }

  async function acknowledge(a, btn) {
    btn.disabled = true;
    try {
      await api("POST", `/v1/alerts/${a.id}/acknowledge`, undefined, { "If-Match": `"${a.version}"` });
    } catch (e) {
      alert("Not acknowledged: " + e.message);
    }
    loadAlerts();
  }

  // --- live stream -------------------------------------------------------------
  async function connect() {
    if (state.replaced) return;
    let ticket;
    try {
      ({ ticket } = await api("POST", "/v1/live/ticket"));
    } catch (e) { return reconnectLater(); }
    let url = "/v1/live?ticket=" + encodeURIComponent(ticket);
    if (state.lastEventId) url += "&lastEventId=" + encodeURIComponent(state.lastEventId);
    const es = new EventSource(url);
    state.es = es;
    es.onopen = () => { $("live").textContent = "live"; $("live").classList.remove("off"); };
    // A ticket is single-use: EventSource's own retry would fail, so reconnect with a new one.
    es.onerror = () => { es.close(); setOffline(); reconnectLater(); };
    const on = (type, fn) => es.addEventListener(type, (m) => { if (m.lastEventId) state.lastEventId = m.lastEventId; fn(JSON.parse(m.data)); });
    on("reading.stored", (e) => updateReading(e.data));
    on("readings.stored", (e) => e.data.latest && updateReading(e.data.latest));
    for (const t of ["alert.fired", "alert.resolved", "alert.acknowledged"]) on(t, () => loadAlerts());
    for (const t of ["device.registered", "device.changed"]) on(t, () => loadDevices());
    on("resync", () => { loadDevices(); loadAlerts(); });
    on("overflow", () => { es.close(); setOffline(); reconnectLater(); });
    on("session_replaced", () => {
      state.replaced = true; es.close(); setOffline();
      $("banner").textContent = "You opened the dashboard somewhere else; live updates stopped here. Reload to take over.";
      $("banner").hidden = false;
    });
  }

  function setOffline() { $("live").textContent = "offline"; $("live").classList.add("off"); }
  function reconnectLater() { clearTimeout(state.retry); state.retry = setTimeout(connect, 2000); }

  // --- OIDC sign-in: authorization code + PKCE (public client) ---------------------
  const b64url = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const redirectURI = () => location.origin + "/";

  async function discovery(issuer) {
    const r = await fetch(issuer.replace(/\/$/, "") + "/.well-known/openid-configuration");
    if (!r.ok) throw new Error("OIDC discovery failed: HTTP " + r.status);
    return r.json();
  }

  async function oidcStart(cfg) {
    const d = await discovery(cfg.oidcIssuer);
    const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
    const st = b64url(crypto.getRandomValues(new Uint8Array(16)));
    const challenge = b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
    sessionStorage.setItem("thermo.pkce", JSON.stringify({ verifier, state: st }));
    const u = new URL(d.authorization_endpoint);
    u.search = new URLSearchParams({ response_type: "code", client_id: cfg.oidcClientId, redirect_uri: redirectURI(), scope: "openid", state: st, code_challenge: challenge, code_challenge_method: "S256" });
    location.assign(u.toString());
  }

  async function oidcFinish(cfg, params) {
    const saved = JSON.parse(sessionStorage.getItem("thermo.pkce") || "{}");
    sessionStorage.removeItem("thermo.pkce");
    history.replaceState(null, "", "/");
    if (!saved.state || saved.state !== params.get("state")) throw new Error("sign-in state mismatch; try again");
    const d = await discovery(cfg.oidcIssuer);
    const r = await fetch(d.token_endpoint, {
      method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "authorization_code", code: params.get("code"), redirect_uri: redirectURI(), client_id: cfg.oidcClientId, code_verifier: saved.verifier }),
    });
    const tok = await r.json().catch(() => ({}));
    if (!r.ok || !tok.access_token) throw new Error(tok.error_description || tok.error || "token exchange failed");
    return tok.access_token;
  }

  const showError = (e) => { $("signin-error").textContent = "Sign-in failed: " + (e.message || e); };
  $("use-token").addEventListener("click", () => signIn($("token").value));
  $("mint").addEventListener("click", mint);
  $("signout").addEventListener("click", signOut);
  (async () => {
    const cfg = await fetch("/static/config.json").then((r) => r.json()).catch(() => ({}));
    const params = new URLSearchParams(location.search);
    if (cfg.oidcIssuer) {
      $("oidc").hidden = false;
      $("oidc").addEventListener("click", () => oidcStart(cfg).catch(showError));
      if (params.get("code")) return oidcFinish(cfg, params).then(signIn).catch(showError);
      if (params.get("error")) showError(new Error(params.get("error_description") || params.get("error")));
    }
    if (state.token) signIn(state.token);
  })();
})();
