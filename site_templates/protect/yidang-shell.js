/* yidang protected site: log in, unwrap keys, decrypt pages in the browser.
 * WebCrypto only (AES-256-GCM, PBKDF2-HMAC-SHA256, ECDH P-256, HKDF, AES-KW).
 * Keys are non-extractable CryptoKeys, kept for this tab's session only
 * (IndexedDB entry named by a random id held in sessionStorage). */
(() => {
  "use strict";
  const C = window.YD_CONFIG;
  const L = C.labels;
  const $ = (sel) => document.querySelector(sel);
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  let S = null; // {teacher, keys: CryptoKey[], index: {route: [blob, kind, scope, title]}}
  const urls = []; // object URLs to revoke on logout

  // --- blobs arrive as scripts: works from file:// where fetch is refused ---
  const waiting = {};
  window.__yd = (id, data) => { const w = waiting[id]; if (w) { delete waiting[id]; w(data); } };
  function load(dir, id) {
    return new Promise((resolve, reject) => {
      waiting[id] = resolve;
      const s = document.createElement("script");
      s.src = `${dir}/${id}.js`;
      s.onload = () => s.remove();
      s.onerror = () => { delete waiting[id]; s.remove(); reject(new Error("missing")); };
      document.head.appendChild(s);
    });
  }

  function unb64(s) {  // URL-alphabet base64 without padding, as the build writes it
    const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4));
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  const subtle = () => window.crypto && window.crypto.subtle;
  async function openSealed(key, blob, aad) {
    return new Uint8Array(await subtle().decrypt(
      { name: "AES-GCM", iv: blob.subarray(0, 12), additionalData: enc.encode(aad) }, key, blob.subarray(12)));
  }
  async function inflate(bytes) {
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }
  function normalise(p) {
    const raw = p.toUpperCase().replace(/[^0-9A-Z]/g, "").replace(/O/g, "0").replace(/[IL]/g, "1");
    return (raw.match(/.{1,4}/g) || []).join("-");
  }
  async function hex(text) {
    const d = new Uint8Array(await subtle().digest("SHA-256", enc.encode(text)));
    return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // --- login: passphrase → private key → wrapped keys → index ---------------
  async function login(teacher, passphrase) {
    const name = (await hex(`${C.salt}|${teacher}`)).slice(0, 32);
    let ring;
    try { ring = JSON.parse(dec.decode(unb64(await load("k", name)))); }
    catch (e) { throw new Error(L.bad_login); }
    const p = ring.priv;
    const base = await subtle().importKey("raw", enc.encode(normalise(passphrase)), "PBKDF2", false, ["deriveKey"]);
    const pk = await subtle().deriveKey(
      { name: "PBKDF2", salt: unb64(p.salt), iterations: p.iterations, hash: "SHA-256" },
      base, { name: "AES-GCM", length: 256 }, false, ["decrypt"]);
    let pkcs8;
    try { pkcs8 = await openSealed(pk, unb64(p.data), `yidang-access-1|private-key|${teacher}`); }
    catch (e) { throw new Error(L.bad_login); }
    const priv = await subtle().importKey("pkcs8", pkcs8, { name: "ECDH", namedCurve: "P-256" }, false, ["deriveBits"]);
    const epk = await subtle().importKey("raw", unb64(ring.epk), { name: "ECDH", namedCurve: "P-256" }, false, []);
    const bits = await subtle().deriveBits({ name: "ECDH", public: epk }, priv, 256);
    const hk = await subtle().importKey("raw", bits, "HKDF", false, ["deriveKey"]);
    const kek = await subtle().deriveKey(
      { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: enc.encode(`${C.format}|${C.build}|${teacher}`) },
      hk, { name: "AES-KW", length: 256 }, false, ["unwrapKey"]);
    const keys = [];
    for (const w of ring.keys) {
      keys.push(await subtle().unwrapKey("raw", unb64(w), kek, "AES-KW", { name: "AES-GCM" }, false, ["decrypt"]));
    }
    const index = JSON.parse(dec.decode(await openSealed(keys[0], unb64(ring.index), `${C.format}|index|${C.build}`)));
    return { teacher, keys: keys.slice(1), index };
  }

  // --- session: this tab only; idle logout -----------------------------------
  const DB = "yidang-session";
  function db() {
    return new Promise((resolve, reject) => {
      const r = indexedDB.open(DB, 1);
      r.onupgradeneeded = () => r.result.createObjectStore("s");
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
  }
  async function idb(mode, fn) {
    const d = await db();
    return new Promise((resolve, reject) => {
      const t = d.transaction("s", mode);
      const r = fn(t.objectStore("s"));
      t.oncomplete = () => resolve(r && r.result);
      t.onerror = () => reject(t.error);
    });
  }
  async function saveSession() {
    try {
      const sid = sessionStorage.getItem("yd-sid") || crypto.getRandomValues(new Uint32Array(4)).join("-");
      sessionStorage.setItem("yd-sid", sid);
      await idb("readwrite", (s) => s.put({ ...S, build: C.build }, sid));
    } catch (e) { /* memory only: a reload asks to log in again */ }
  }
  async function restoreSession() {
    try {
      const sid = sessionStorage.getItem("yd-sid");
      if (!sid) return null;
      const s = await idb("readonly", (st) => st.get(sid));
      if (!s || s.build !== C.build) return null;
      if (Date.now() - (+sessionStorage.getItem("yd-last") || 0) > C.idle_minutes * 60000) return null;
      return s;
    } catch (e) { return null; }
  }
  async function logout(message) {
    const sid = sessionStorage.getItem("yd-sid");
    S = null;
    sessionStorage.removeItem("yd-sid");
    sessionStorage.removeItem("yd-last");
    urls.splice(0).forEach((u) => URL.revokeObjectURL(u));
    try { if (sid) await idb("readwrite", (s) => s.delete(sid)); } catch (e) { /* nothing stored */ }
    showLogin(message || "");
  }
  function touch() { if (S) sessionStorage.setItem("yd-last", String(Date.now())); }
  ["click", "keydown", "mousemove", "touchstart", "scroll"].forEach((ev) => addEventListener(ev, touch, { passive: true }));
  setInterval(() => {
    if (S && Date.now() - (+sessionStorage.getItem("yd-last") || 0) > C.idle_minutes * 60000) logout(L.idle);
  }, 15000);

  // --- pages -----------------------------------------------------------------
  function route() { return decodeURIComponent(location.hash.replace(/^#\/?/, "")); }
  function resolve(href, from) {
    if (/^([a-z]+:|#|\/\/)/i.test(href)) return null;
    const u = new URL(href, "https://site.invalid/" + from);
    return u.pathname.slice(1).replace(/index\.html$/, "");
  }
  async function blob(entry) {
    const [id, kind, scope] = entry;
    const sealed = unb64(await load("d", id));
    const plain = await openSealed(S.keys[scope], sealed, `${C.format}|${id}`);
    return kind === "page" || kind === "search" ? JSON.parse(dec.decode(await inflate(plain))) : plain;
  }
  async function fileUrl(r, type) {
    const entry = S.index[r];
    if (!entry) return null;
    const u = URL.createObjectURL(new Blob([await blob(entry)], { type }));
    urls.push(u);
    return u;
  }
  function esc(t) { const d = document.createElement("div"); d.textContent = t; return d.innerHTML; }
  function home() {
    const groups = {};
    for (const [r, e] of Object.entries(S.index)) {
      if (e[1] !== "page") continue;
      const kind = r.split("/")[0] || "index";
      (groups[kind] = groups[kind] || []).push([r, e[3]]);
    }
    let h = `<p>${esc(L.home_intro)}</p>`;
    for (const kind of ["students", "classes", "teachers", "index", "dashboard", "categories"]) {
      if (!groups[kind]) continue;
      const rows = groups[kind].sort((a, b) => a[1].localeCompare(b[1], "zh-CN"))
        .map(([r, t]) => `<li><a href="#/${esc(r)}">${esc(t)}</a></li>`).join("");
      h += `<h2>${esc(L.groups[kind] || kind)}</h2><ul class="yd-home" data-group="${kind}">${rows}</ul>`;
    }
    return { t: L.home_title, h };
  }
  async function search(q) {
    const hits = [];
    if (q.length >= 1) {
      for (const entry of Object.values(S.index).filter((e) => e[1] === "search")) {
        for (const d of await blob(entry)) {
          const at = d.x.indexOf(q);
          if (at < 0 && !d.t.includes(q)) continue;
          const from = Math.max(0, at - 30);
          hits.push([d.r, d.t, at < 0 ? "" : d.x.slice(from, at + q.length + 40)]);
        }
      }
    }
    hits.sort((a, b) => a[1].localeCompare(b[1], "zh-CN"));
    const rows = hits.map(([r, t, snip]) => `<li data-route="${esc(r)}"><a href="#/${esc(r)}">${esc(t)}</a>`
      + (snip ? `<br><span class="yd-snippet">…${esc(snip)}…</span>` : "") + "</li>").join("");
    return { t: `${L.search_title}:${q}`,
             h: hits.length ? `<p>${esc(L.search_found.replace("{n}", hits.length))}</p><ul class="yd-results">${rows}</ul>`
                            : `<p class="yd-results-none">${esc(L.search_none)}</p>` };
  }
  async function show() {
    if (!S) return;
    touch();
    const r = route();
    const page = $("#yd-page");
    let doc;
    if (r.startsWith("search?q=")) doc = await search(decodeURIComponent(r.slice(9)).trim());
    else if (S.index[r] && S.index[r][1] === "page") doc = await blob(S.index[r]);
    else if (r === "" ) doc = home();
    else doc = { t: L.no_access_title, h: `<p class="yd-no-access" role="alert">${esc(L.no_access)}</p>` };
    document.title = `${doc.t} - ${C.site_name}`;
    page.innerHTML = `<h1>${esc(doc.t)}</h1>${doc.h}`;  // bodies were escaped and sanitised at build
    page.dataset.route = r;
    for (const a of page.querySelectorAll("a[href]")) {
      const target = resolve(a.getAttribute("href"), r);
      if (target === null) continue;
      if (/\.pdf$/.test(target)) { a.dataset.file = target; a.removeAttribute("href"); a.setAttribute("role", "button"); a.tabIndex = 0; }
      else a.setAttribute("href", "#/" + target);
    }
    for (const img of page.querySelectorAll("img[src]")) {
      const target = resolve(img.getAttribute("src"), r);
      img.removeAttribute("src");
      if (target) fileUrl(target, "image/jpeg").then((u) => { if (u) img.src = u; });
    }
    window.scrollTo(0, 0);
  }
  document.addEventListener("click", async (ev) => {
    const a = ev.target.closest && ev.target.closest("a[data-file]");
    if (!a || !S) return;
    ev.preventDefault();
    const u = await fileUrl(a.dataset.file, "application/pdf");
    if (!u) return;
    const dl = document.createElement("a");
    dl.href = u; dl.download = a.dataset.file.split("/").pop(); dl.click();
  });

  // --- the shell ---------------------------------------------------------------
  function showLogin(message) {
    $("#yd-login").hidden = false;
    $("#yd-page").hidden = true;
    $("#yd-page").innerHTML = "";
    delete $("#yd-page").dataset.route;
    $("#yd-logout").hidden = true;
    $("#yd-search").hidden = true;
    $("#yd-error").textContent = message;
    document.title = C.site_name;
    for (const a of document.querySelectorAll(".md-nav--primary a.md-nav__link")) a.hidden = false;
  }
  async function enter(session) {
    S = session;
    $("#yd-login").hidden = true;
    $("#yd-page").hidden = false;
    $("#yd-logout").hidden = false;
    $("#yd-search").hidden = false;
    for (const a of document.querySelectorAll(".md-nav--primary a.md-nav__link[href], .md-tabs a[href]")) {
      const target = resolve(a.getAttribute("href"), "");
      if (target === null) continue;
      a.setAttribute("href", "#/" + target);
      a.hidden = target !== "" && !S.index[target];
    }
    await show();
  }
  function setup() {
    const header = $(".md-header__inner");
    const out = document.createElement("button");
    out.id = "yd-logout"; out.className = "md-header__button yd-logout"; out.hidden = true;
    out.textContent = L.logout; out.addEventListener("click", () => logout(L.logged_out));
    const form = document.createElement("form");
    form.id = "yd-search"; form.className = "yd-search"; form.hidden = true; form.setAttribute("role", "search");
    form.innerHTML = `<input type="search" name="q" aria-label="${esc(L.search)}" placeholder="${esc(L.search)}">`;
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const q = form.q.value.trim();
      if (q) location.hash = "#/search?q=" + encodeURIComponent(q);
    });
    header.appendChild(form);
    header.appendChild(out);
    if (!subtle()) {
      $("#yd-login").hidden = true;
      $("#yd-error").textContent = L.no_webcrypto.replace("{url}", location.href);
      return;
    }
    $("#yd-login").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      $("#yd-error").textContent = L.working;
      const button = $("#yd-login button"); button.disabled = true;
      try {
        const s = await login($("#yd-user").value.trim().toUpperCase(), $("#yd-pass").value);
        $("#yd-pass").value = "";
        $("#yd-error").textContent = "";
        // Stored before the page shows: a reload right after login finds the session.
        S = s; touch(); await saveSession();
        await enter(s);
      } catch (e) { $("#yd-error").textContent = e.message === L.bad_login ? L.bad_login : `${L.failed}: ${e.message}`; }
      finally { button.disabled = false; }
    });
    addEventListener("hashchange", () => show().catch((e) => { $("#yd-page").textContent = `${L.failed}: ${e.message}`; }));
    restoreSession().then((s) => (s ? enter(s) : showLogin("")));
  }
  setup();
})();
