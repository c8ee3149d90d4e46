/* yidang protected site: log in, unwrap keys, decrypt pages in the browser.
 * WebCrypto only (AES-256-GCM, PBKDF2-HMAC-SHA256, ECDH P-256, HKDF, AES-KW).
 *
 * The session lives in this page's memory and nowhere else: no IndexedDB,
 * localStorage, sessionStorage, cookie, Cache Storage or service worker ever
 * holds a key, the page index, a route or a title. Moving between pages keeps
 * it (the address changes only after "#"); a reload, a new tab or closing the
 * tab ends it. The address bar shows opaque tokens, the tab title is always the
 * site's name, and search words never enter the address, so the browser's own
 * history and session files hold no name or id. */
(() => {
  "use strict";
  const C = JSON.parse(document.getElementById("yd-config").textContent);
  const L = C.labels;
  const $ = (sel) => document.querySelector(sel);
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  // The session: {teacher, raw: [base64 key], keys: [CryptoKey|undefined],
  // index: {token: [blob, kind, key, title, route]}, byRoute: {route: token}}
  let S = null;
  let lastActive = 0;
  let query = ""; // the last search, in memory only
  const urls = []; // object URLs to revoke on logout
  const INDEX = "index";  // the route of leadership's one blob with every key and route
  const COUNSEL_INDEX = "counsel-index";  // the counsellor role's one blob of every counselling scope

  // --- blobs arrive as scripts: works from file:// where fetch is refused ---
  // A file names the blob it holds (__yd("<id>", …)); one that ran without naming the blob it
  // was loaded for (another page's file copied over it) is refused, never waited for.
  const waiting = {};  // id → the loads waiting for it
  window.__yd = (id, data) => {
    const w = waiting[id];
    if (w) { delete waiting[id]; w.forEach((f) => f(data)); }
  };
  class BlobError extends Error {}  // the site's files are not what the index says: said as it is
  function load(dir, id) {
    return new Promise((resolve, reject) => {
      let done = false;
      const got = (data) => { done = true; resolve(data); };
      (waiting[id] = waiting[id] || []).push(got);
      const forget = () => { const w = waiting[id]; if (w && w.includes(got)) w.splice(w.indexOf(got), 1); if (w && !w.length) delete waiting[id]; };
      const s = document.createElement("script");
      s.src = `${dir}/${id}.js`;
      s.onload = () => { s.remove(); if (!done) { forget(); reject(new BlobError(L.blob_mismatch)); } };
      // Offline, a page this device never opened is not there yet: say so, not "incomplete".
      s.onerror = () => { forget(); s.remove(); reject(new BlobError(navigator.onLine === false ? L.offline : L.incomplete)); };
      document.head.appendChild(s);
    });
  }

  function unb64(s) {  // URL-alphabet base64 without padding, as the build writes it
    const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4));
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  function unpad(bytes) {  // 4-byte length, the data, zeros up to the size bucket
    const n = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0);
    return bytes.subarray(4, 4 + n);
  }
  // WebCrypto; on a plain-http LAN address (no crypto.subtle there) and only where the
  // school opted in, the same operations over the audited @noble libraries (yidang-noble.js).
  const subtle = () => (window.crypto && window.crypto.subtle) || (C.plain_http && window.ydSubtle) || null;
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
  const aesKey = (raw) => subtle().importKey("raw", raw, { name: "AES-GCM" }, false, ["decrypt"]);

  const hexOf = (bytes) => Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
  const fromHex = (h) => new Uint8Array((h.match(/../g) || []).map((b) => parseInt(b, 16)));
  const hkdfBits = async (ikm, salt, info, bits) => subtle().deriveBits(
    { name: "HKDF", hash: "SHA-256", salt, info: enc.encode(info) },
    await subtle().importKey("raw", ikm, "HKDF", false, ["deriveBits"]), bits);
  // Names sort as a Chinese reader expects (pinyin). The collator's first use loads ICU's data
  // (20-30 ms): done during the login's PBKDF2, when this thread would wait anyway.
  let collator = null;
  function zh() {
    if (!collator) { collator = new Intl.Collator("zh-CN"); collator.compare("张", "李"); }
    return collator;
  }
  const byName = (a, b) => zh().compare(a, b);
  const byCode = (a, b) => (a < b ? -1 : a > b ? 1 : 0);  // ids and ISO dates: no collation needed
  const pbkdf2Bits = async (pass, salt, iterations) => subtle().deriveBits(
    { name: "PBKDF2", salt, iterations, hash: "SHA-256" },
    await subtle().importKey("raw", enc.encode(pass), "PBKDF2", false, ["deriveBits"]), 256);

  // --- login: passphrase → keyring → private key → ring key → content keys ---
  // As generator/protect/keyring.py: the account's PBKDF2 salt comes from the teacher id, the
  // one PBKDF2 gives the key that locks the private keys and, through HKDF, the account's
  // lookup; this build's salt turns the lookup into the keyring's name and the key of the box
  // in it that holds the locked keys. Nothing in the site tests a guess more cheaply.
  async function findKeyring(lookup) {
    const name = hexOf(await hkdfBits(fromHex(lookup), fromHex(C.salt), `${C.keyring}|name`, 128));
    try { return JSON.parse(dec.decode(unb64(await load("k", name)))); } catch (e) { return null; }
  }
  async function login(teacher, passphrase) {
    const pass = normalise(passphrase);
    // An account made before (a random salt, found by a fast hash) is tried first: that costs
    // one missing file, not a second PBKDF2.
    let lookup = C.legacy ? await hex(`yidang-access-1|lookup|${teacher}|${pass}`) : "";
    let ring = C.legacy ? await findKeyring(lookup) : null;  // only when this site has such accounts
    let keyBits = null;
    if (!ring) {
      const salt = fromHex((await hex(`yidang-access-1|salt|${teacher}`)).slice(0, 32));
      const passKey = await subtle().importKey("raw", enc.encode(pass), "PBKDF2", false, ["deriveBits"]);
      const derived = subtle().deriveBits({ name: "PBKDF2", salt, iterations: C.iterations, hash: "SHA-256" }, passKey, 256);
      zh();  // while the browser's crypto thread runs the PBKDF2, this one loads what sorting names needs
      keyBits = await derived;
      lookup = hexOf(await hkdfBits(keyBits, new Uint8Array(0), `yidang-access-1|lookup|${teacher}`, 256));
      ring = await findKeyring(lookup);
    }
    if (!ring) throw new Error(L.other_school.replace("{school}", C.school || ""));  // no keyring: id, passphrase or site
    let p;
    try {
      const wrap = await subtle().importKey("raw",
        await hkdfBits(fromHex(lookup), fromHex(C.salt), `${C.keyring}|wrap|${C.build}|${teacher}`, 256),
        { name: "AES-GCM" }, false, ["decrypt"]);
      p = JSON.parse(dec.decode(await openSealed(wrap, unb64(ring.lock), `${C.keyring}|lock|${C.build}|${teacher}`)));
    } catch (e) { throw new Error(L.incomplete); }
    if (!keyBits) keyBits = await pbkdf2Bits(pass, unb64(p.salt), p.iterations);
    const pk = await subtle().importKey("raw", keyBits, { name: "AES-GCM" }, false, ["decrypt"]);
    keyBits = null;
    let pkcs8;
    try { pkcs8 = await openSealed(pk, unb64(p.priv), `yidang-access-1|private-key|${teacher}`); }
    catch (e) { throw new Error(L.bad_login); }
    const priv = await subtle().importKey("pkcs8", pkcs8, { name: "ECDH", namedCurve: "P-256" }, false, ["deriveBits"]);
    // The signing key is locked under the same passphrase key: it signs the records this
    // teacher writes in the site (non-extractable, in memory only, like every key here).
    const signPkcs8 = await openSealed(pk, unb64(p.sign), `yidang-access-1|signing-key|${teacher}`);
    const sign = await subtle().importKey("pkcs8", signPkcs8, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
    const epk = await subtle().importKey("raw", unb64(ring.epk), { name: "ECDH", namedCurve: "P-256" }, false, []);
    const bits = await subtle().deriveBits({ name: "ECDH", public: epk }, priv, 256);
    const hk = await subtle().importKey("raw", bits, "HKDF", false, ["deriveKey"]);
    const kek = await subtle().deriveKey(
      { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: enc.encode(`${C.format}|${C.build}|${teacher}`) },
      hk, { name: "AES-KW", length: 256 }, false, ["unwrapKey"]);
    // A form the idle logout interrupts is kept sealed under this key: only this teacher's
    // next login in this tab (the same ECDH secret) opens it again.
    const draftKey = await subtle().deriveKey(
      { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: enc.encode(`yidang-draft|${C.build}|${teacher}`) },
      hk, { name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
    let own, upload;
    try {  // the passphrase was right: if this fails, the copy of the site is mixed or cut short
      const ringKey = await subtle().unwrapKey("raw", unb64(ring.key), kek, "AES-KW", { name: "AES-GCM" }, false, ["decrypt"]);
      own = JSON.parse(dec.decode(unpad(await openSealed(ringKey, unb64(ring.ring), `${C.format}|ring|${C.build}`))));
      upload = own.upload || null;  // this teacher's credential for the school's inbox (docs/deploy.md)
      if (own.ref) {  // leadership: every key and route, in one blob under the leadership key
        const key = await aesKey(unb64(own.keys[0]));
        const [id] = own.ref;
        own = JSON.parse(dec.decode(unpad(await openSealed(key, unb64(await load("d", id)), `${C.format}|${id}|${INDEX}`))));
      }
      if (own.cref) {  // the counsellor role: every student's counselling keys and routes, in one blob
        const [id, at] = own.cref;
        const key = await aesKey(unb64(own.keys[at]));
        const more = JSON.parse(dec.decode(unpad(await openSealed(key, unb64(await load("d", id)), `${C.format}|${id}|${COUNSEL_INDEX}`))));
        const offset = own.keys.length;
        own.keys.push(...more.keys);
        for (const [token, e] of Object.entries(more.index)) { e[2] += offset; own.index[token] = e; }
      }
    } catch (e) { throw new Error(L.incomplete); }
    const byRoute = {};
    for (const [token, e] of Object.entries(own.index)) byRoute[e[4]] = token;
    return { teacher, sign, raw: own.keys, keys: [], index: own.index, byRoute, upload, draftKey };
  }
  async function contentKey(at) {  // imported on first use: leadership holds a thousand
    if (!S.keys[at]) S.keys[at] = await aesKey(unb64(S.raw[at]));
    return S.keys[at];
  }

  // --- session: memory only; idle logout ----------------------------------------
  function forget() {
    // Nothing of the session may stay reachable from the page's scripts for the next person
    // at this tab: keys, index, search, form, object URLs, the charts (ECharts keeps every
    // chart it drew, with its data, until it is disposed) and the teacher id typed in.
    S = null;
    F = null;
    query = "";
    urls.splice(0).forEach((u) => URL.revokeObjectURL(u));
    const page = $("#yd-page");
    if (window.ydPage && window.ydPage.dispose) window.ydPage.dispose(page);
    page.innerHTML = "";
    delete page.dataset.route;
    delete page.dataset.view;
    const form = $("#yd-search");
    if (form) form.q.value = "";
    $("#yd-user").value = "";
    $("#yd-pass").value = "";
    // The last string any regular expression matched stays readable as RegExp.input,
    // RegExp.lastMatch, RegExp["$_"]… (legacy statics of every page): a page's text was one.
    /(?:)/.exec("");
  }
  function logout(message) {
    forget();
    if (location.hash) history.replaceState(null, "", location.pathname + location.search);
    showLogin(message || "");
  }
  function touch() { if (S) lastActive = Date.now(); }
  ["click", "keydown", "mousemove", "touchstart", "scroll"].forEach((ev) => addEventListener(ev, touch, { passive: true }));
  let draft = null;  // {teacher, iv, data}: a form the idle logout interrupted, sealed (see login)
  async function keepDraft() {
    const formEl = document.getElementById("yd-form");
    if (!S || !F || !F.dirty || !formEl) return;
    const values = {};
    for (const el of formEl.elements) {
      if (!el.name || el.type === "file") continue;
      if (el.type === "checkbox") { if (el.checked) (values[el.name] = values[el.name] || []).push(el.value); }
      else values[el.name] = el.value;
    }
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const plain = enc.encode(JSON.stringify({ route: F.route, type: F.type, name: F.name, values }));
    draft = { teacher: S.teacher, iv, data: await subtle().encrypt({ name: "AES-GCM", iv }, S.draftKey, plain) };
  }
  async function restoreDraft() {
    if (!draft || draft.teacher !== S.teacher) return false;
    const kept = draft;
    draft = null;
    let d;
    try { d = JSON.parse(dec.decode(await subtle().decrypt({ name: "AES-GCM", iv: kept.iv }, S.draftKey, kept.data))); }
    catch (e) { return false; }
    F = { route: d.route, student: d.route.split("/")[1], name: d.name, type: d.type, dirty: true, restore: d.values };
    return true;
  }
  setInterval(() => {
    if (S && Date.now() - lastActive > C.idle_minutes * 60000) keepDraft().finally(() => logout(L.idle));
  }, 15000);
  // Leaving the page (closing the tab, going elsewhere): nothing stays in it for the
  // back/forward cache or a session snapshot to keep.
  addEventListener("pagehide", () => { if (S) { forget(); showLogin(""); } });

  // --- pages -----------------------------------------------------------------
  const SEARCH = "search";
  const NONE = "none";
  function token() { return location.hash.replace(/^#\/?/, ""); }
  function resolve(href, from) {
    if (/^([a-z]+:|#|\/\/)/i.test(href)) return null;
    const u = new URL(href, "https://site.invalid/" + from);
    return decodeURIComponent(u.pathname.slice(1)).replace(/index\.html$/, "");
  }
  function linkTo(route) {
    if (route === "") return "#/";
    return "#/" + (S.byRoute[route] || NONE);
  }
  async function blob(entry) {
    // The associated data names the blob and its route: a blob shown under any other route,
    // or changed at all, does not decrypt.
    const [id, kind, at, , route] = entry;
    const sealed = unb64(await load("d", id));
    let plain;
    try { plain = unpad(await openSealed(await contentKey(at), sealed, `${C.format}|${id}|${route}`)); }
    catch (e) { throw new BlobError(L.blob_damaged); }
    return ["page", "search", "part", "todo"].includes(kind) ? JSON.parse(dec.decode(await inflate(plain))) : plain;
  }
  const entryOf = (route) => S.index[S.byRoute[route]];
  async function fileUrl(route, type) {
    const entry = entryOf(route);
    if (!entry) return null;
    const u = URL.createObjectURL(new Blob([await blob(entry)], { type }));
    urls.push(u);
    return u;
  }
  function esc(t) { const d = document.createElement("div"); d.textContent = t; return d.innerHTML; }
  // --- 我的待办: what is overdue or due this week, for the students this reader answers for ---
  async function todo() {
    const all = Object.values(S.index).filter((e) => e[1] === "todo");
    const school = all.find((e) => e[4] === "todo.json");  // leadership: the school's list alone
    const items = new Map();
    let asOf = "";
    for (const entry of school ? [school] : all) {
      const d = await blob(entry);
      asOf = d.as_of;
      for (const i of d.items) items.set(`${i.s}|${i.r}|${i.end}`, i);
    }
    if (!all.length) return "";
    const sorted = [...items.values()].sort((a, b) => b.days - a.days || byCode(a.end, b.end)
      || byCode(a.s, b.s) || byCode(a.r, b.r));
    const T = L.todo;
    let h = `<section class="yd-todo" aria-labelledby="yd-todo-h"><h2 id="yd-todo-h">${esc(T.heading)}</h2>`
      + `<p class="yd-todo-intro">${esc(T.intro.replace("{date}", asOf))}</p>`;
    if (!sorted.length) return `${h}<p class="yd-todo-none">${esc(T.none)}</p></section>`;
    if (school) h += todoGroups(sorted, "c", T.by_class) + todoGroups(sorted, "m", T.by_teacher) + `<h3>${esc(T.longest)}</h3>`;
    const shown = school ? sorted.filter((i) => i.state === "overdue").slice(0, 20) : sorted;
    return `${h}<ul class="yd-todo-list">${shown.map(todoItem).join("")}</ul></section>`;
  }
  function readable(route, text) {  // a link where this reader may go, else the text alone
    return S.byRoute[route] ? `<a href="${esc(linkTo(route))}">${esc(text)}</a>` : esc(text);
  }
  function todoItem(i) {
    const when = i.w ? L.todo.waiting.replace("{date}", i.w)  // submitted: not asked again
      : i.state === "overdue" ? L.todo.overdue.replace("{days}", i.days)
      : i.days === 0 ? L.todo.due_today : L.todo.due_in.replace("{days}", -i.days);
    const route = `students/${i.s}/`;
    const mine = i.t === S.teacher;  // whose task it is: only they are offered the form
    const form = mine && !i.w && C.intake && C.forms && C.forms.types.some((t) => t.type === i.r)
      ? ` <button type="button" class="md-button yd-write-type" data-route="${esc(route)}" data-type="${esc(i.r)}">${esc(L.todo.write)}</button>` : "";
    const what = L.todo.period.replace("{period}", i.p || "").replace("{what}", L.requirements[i.r] || i.r);
    const who = mine || !i.m ? "" : ` · <span class="yd-todo-who">${readable(`teachers/${i.t}/`, L.todo.responsible.replace("{name}", i.m))}</span>`;
    return `<li class="yd-todo-item" data-state="${esc(i.state)}" data-student="${esc(i.s)}" data-requirement="${esc(i.r)}" data-end="${esc(i.end)}">`
      + `<a href="${esc(linkTo(route))}">${esc(i.n)}</a><span class="yd-class-of">${readable(`classes/${i.ci}/`, i.c)}</span>`
      + ` · <span class="yd-todo-what">${esc(what)}</span> · <span class="yd-todo-when">${esc(when)}</span>${who}${form}</li>`;
  }
  function todoGroups(items, key, title) {
    const by = new Map();
    for (const i of items) {
      const row = by.get(i[key]) || { overdue: 0, due: 0, waiting: 0, route: key === "c" ? `classes/${i.ci}/` : `teachers/${i.t}/` };
      row[i.state] += 1;
      by.set(i[key], row);
    }
    const rows = [...by.entries()].sort((a, b) => b[1].overdue - a[1].overdue || byName(a[0], b[0]))
      .map(([name, r]) => `<tr><th scope="row">${name ? readable(r.route, name) : "—"}</th><td>${r.overdue}</td><td>${r.due}</td></tr>`).join("");
    return `<h3>${esc(title)}</h3><div class="yd-table"><table data-todo-by="${key}"><thead><tr><th scope="col"></th>`
      + `<th scope="col">${esc(L.todo.overdue_count)}</th><th scope="col">${esc(L.todo.due_count)}</th></tr></thead><tbody>${rows}</tbody></table></div>`;
  }
  async function home() {
    const groups = {};
    for (const [tok, e] of Object.entries(S.index)) {
      if (e[1] !== "page") continue;
      const kind = e[4].split("/")[0] || "index";
      (groups[kind] = groups[kind] || []).push([tok, e[3]]);
    }
    let h = await todo();
    h += `<p>${esc(L.home_intro)}</p>`;
    for (const kind of ["students", "counselling", "counsel", "classes", "teachers", "index", "dashboard", "categories"]) {
      if (!groups[kind]) continue;
      const few = kind === "students" && groups[kind].length <= HOME_FORMS;
      const rows = groups[kind].sort((a, b) => byName(a[1], b[1]))
        .map(([tok, t]) => `<li><a href="#/${esc(tok)}">${esc(t)}</a>${few ? writeButtons(S.index[tok][4], HOME_TYPES) : ""}</li>`).join("");
      h += `<h2>${esc(L.groups[kind] || kind)}</h2><ul class="yd-home" data-group="${kind}">${rows}</ul>`;
    }
    return { t: L.home_title, h };
  }
  // Search results: students first (whom a teacher looks for), then classes, teachers and the
  // other pages, each kind under its heading as on the home page; within a kind, pages whose
  // title holds the words before pages that only mention them. A result quotes the page's text
  // around the words, or, when its title matched, the page's lead (a student's class, status
  // and mentor: two students of one name tell apart by it).
  const KINDS = ["students", "classes", "teachers", "categories", "dashboard", "index"];
  const SNIPPET = 80;  // characters quoted
  function snippet(d, q) {
    const at = d.x.indexOf(q);
    if (d.t.includes(q) || at < 0) {
      const lead = d.x.slice(0, Math.min(d.l || 0, SNIPPET));
      return lead && `${lead}${(d.l || 0) > SNIPPET ? "…" : ""}`;
    }
    const from = Math.max(0, at - 30);
    const to = Math.min(d.x.length, at + q.length + SNIPPET - 30);
    return `${from > 0 ? "…" : ""}${d.x.slice(from, to)}${to < d.x.length ? "…" : ""}`;
  }
  async function search(q) {
    const hits = new Map();
    for (const entry of Object.values(S.index).filter((e) => e[1] === "search")) {
      for (const d of await blob(entry)) {
        if ((!d.t.includes(q) && !d.x.includes(q)) || hits.has(d.r)) continue;
        hits.set(d.r, { r: d.r, t: d.t, named: d.t.includes(q), snip: snippet(d, q), kind: d.r.split("/")[0] || "index" });
      }
    }
    const found = [...hits.values()];
    const kinds = [...KINDS, ...new Set(found.map((h) => h.kind).filter((k) => !KINDS.includes(k)))];
    const groups = kinds.map((kind) => [kind, found.filter((h) => h.kind === kind)
      .sort((a, b) => b.named - a.named || byName(a.t, b.t) || byName(a.snip, b.snip))]).filter(([, hs]) => hs.length);
    const list = groups.map(([kind, hs]) => `<h2>${esc(L.groups[kind] || kind)}</h2><ul class="yd-results" data-group="${esc(kind)}">`
      + hs.map((h) => `<li data-route="${esc(h.r)}"><a href="${esc(linkTo(h.r))}">${esc(h.t)}</a>`
        + (h.snip ? `<br><span class="yd-snippet">${esc(h.snip)}</span>` : "") + "</li>").join("") + "</ul>").join("");
    return { t: `${L.search_title}:${q}`,
             h: found.length ? `<p>${esc(L.search_found.replace("{n}", found.length))}</p>${list}`
                             : `<p class="yd-results-none">${esc(L.search_none)}</p>` };
  }
  function broken(message) {  // a blob that is missing, belongs to another page, or was changed
    return { error: true, t: L.failed, h: `<p class="yd-blob-error" role="alert">${esc(message)}</p><p><a href="#/">${esc(L.home_title)}</a></p>` };
  }
  function noAccess() {
    return { t: L.no_access_title, h: `<p class="yd-no-access" role="alert">${esc(L.no_access)}</p>` };
  }
  async function withParts(html, route) {
    // Parts only leadership may see (a teacher's former mentees, a class's closed cases) are
    // sealed apart as [offset, html]: spliced in where they were cut out, for a reader who
    // holds them. Everyone else's page has no trace of them.
    // A student's need-to-know records (心理辅导) are sealed apart the same way, in the
    // student's counselling scope (cut after the leadership parts: spliced in after them).
    const student = route.startsWith("students/") ? route.split("/")[1] : "";
    for (const where of ["leadership", ...(student ? [`counsel/${student}`] : [])]) {
      const entry = entryOf(`${where}/${route}`);
      if (!entry) continue;
      const parts = await blob(entry);
      for (let i = parts.length - 1; i >= 0; i--) html = html.slice(0, parts[i][0]) + parts[i][1] + html.slice(parts[i][0]);
    }
    return html;
  }
  let showing = 0;  // which show() is the latest: an earlier, slower one must not draw over it
  async function show() {
    if (!S) return;
    touch();
    const mine = ++showing;
    const tok = token();
    const page = $("#yd-page");
    const entry = S.index[tok];
    let doc, route = "";
    try {
      if (tok === FORM) doc = F ? formDoc() : await home();
      else if (tok === SEARCH) doc = query ? await search(query) : await home();
      else if (entry && entry[1] === "page") { doc = await blob(entry); route = entry[4]; doc.h = await withParts(doc.h, route); }
      else if (tok === "") doc = await home();
      else doc = noAccess();
    } catch (e) {
      if (!(e instanceof BlobError)) throw e;
      doc = broken(e.message);
      route = "";
    }
    // A link followed while the last page was still being decrypted (the home page after
    // the login, say): the page asked for last is the one shown, whichever finished first.
    if (mine !== showing || !S) return;
    document.title = C.site_name;  // never the page's: the title goes into the browser's history
    const need = C.forms ? C.forms.types.filter((t) => t.need).map((t) => t.type) : [];
    const bar = route.startsWith("students/") ? writeButtons(route, null)
      : route.startsWith("counsel/") ? writeButtons(route, need) : "";  // a counsellor writes what it holds
    page.innerHTML = `<h1 tabindex="-1">${esc(doc.t)}</h1>${bar}${doc.h}`;  // bodies were escaped and sanitised at build
    page.dataset.view = doc.error ? "error" : tok === "" ? "home" : entry ? entry[1] : [SEARCH, FORM].includes(tok) ? tok : NONE;
    for (const a of page.querySelectorAll("a[href]")) {
      const href = a.getAttribute("href");
      if (href.startsWith("#") && !href.startsWith("#/")) { a.dataset.anchor = href.slice(1); a.removeAttribute("href"); a.tabIndex = -1; continue; }
      const target = resolve(href, route);
      if (target === null) continue;
      if (/\.pdf$/.test(target)) { a.dataset.file = target; a.removeAttribute("href"); a.setAttribute("role", "button"); a.tabIndex = 0; }
      else a.setAttribute("href", linkTo(target));
    }
    for (const img of page.querySelectorAll("img[src]")) {
      const target = resolve(img.getAttribute("src"), route);
      img.removeAttribute("src");
      if (target) fileUrl(target, "image/jpeg").then((u) => { if (u) img.src = u; else unseen(img); }, (e) => fileFailed(img, e));
    }
    if (!C.intake || !C.forms) page.querySelectorAll(".yd-write-type").forEach((b) => b.remove());  // no intake key: no form
    if (tok === FORM && F && F.restore) restoreForm(page);
    if (window.ydPage) window.ydPage(page);  // charts (from numbers inside the decrypted page), cards
    page.dataset.route = tok;
    window.scrollTo(0, 0);
    // The new page's heading takes the focus: a screen reader says which page this is, and
    // the keyboard goes on from the top of the page, not from the link that led here.
    page.querySelector("h1").focus({ preventScroll: true });
  }
  // --- record forms: filled in here, checked as `yidang check` does, sealed for the office ---
  // The form's contents live in this page's memory only (autocomplete off: the browser
  // neither remembers them nor restores them after a restart); leaving a filled form asks.
  const FORM = "write";
  const HOME_FORMS = 60;  // the home page offers forms next to at most this many students
  const HOME_TYPES = (C.forms && C.forms.home) || [];  // the four ones' kinds, from the build
  const SUBMISSION = "yidang-submission-1";
  const LF = L.form;
  let F = null;  // the form being filled: {route, student, name, type, dirty}
  function writeButtons(route, only) {
    if (!C.intake || !C.forms) return "";
    const types = C.forms.types.filter((t) => !only || only.includes(t.type));
    return `<div class="yd-write" data-student="${esc(route.split("/")[1])}"><span class="yd-write-label">${esc(LF.write)}</span>`
      + types.map((t) => `<button type="button" class="md-button yd-write-type" data-route="${esc(route)}" data-type="${t.type}">${esc(t.title)}</button>`).join("")
      + "</div>";
  }
  function today() {
    // The school's day (school.yml timezone), as `check` and intake judge a date: not the
    // phone's, whose clock may be set to another zone.
    const parts = {};
    const format = new Intl.DateTimeFormat("en-US", { timeZone: C.forms.timezone || "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit" });
    for (const p of format.formatToParts(new Date())) parts[p.type] = p.value;
    return `${parts.year}-${parts.month}-${parts.day}`;
  }
  function restoreForm(page) {
    // What the teacher had written before the idle logout, back in its fields; photos must be
    // chosen again (a file is never kept).
    const formEl = page.querySelector("#yd-form");
    for (const [name, value] of Object.entries(F.restore)) {
      if (Array.isArray(value)) formEl.querySelectorAll(`input[name="${name}"]`).forEach((box) => { box.checked = value.includes(box.value); });
      else if (formEl.elements[name]) formEl.elements[name].value = value;
    }
    F.restore = null;
    const note = document.createElement("p");
    note.className = "yd-restored"; note.setAttribute("role", "status"); note.textContent = LF.restored;
    formEl.before(note);
  }
  function formOf(type) { return C.forms.types.find((t) => t.type === type); }
  function input(f) {
    const id = `yd-f-${f.name}`;
    const req = f.required ? " required aria-required=\"true\"" : "";
    if (f.kind === "textarea" || f.kind === "list") {
      return `<textarea id="${id}" name="${f.name}" rows="${f.kind === "list" ? 2 : 3}"${req}></textarea>`;
    }
    if (f.kind === "choice" || f.kind === "bool") {
      const opts = f.choices.map(([v, label]) => `<option value="${esc(String(v))}">${esc(label)}</option>`).join("");
      return `<select id="${id}" name="${f.name}"${req}><option value="">—</option>${opts}</select>`;
    }
    const type = f.kind === "date" ? "date" : f.kind === "number" ? "number" : "text";
    const value = f.name === "date" ? ` value="${today()}"` : "";
    return `<input id="${id}" name="${f.name}" type="${type}"${value}${f.kind === "number" ? ' min="0" step="0.01"' : ""}${req}>`;
  }
  function formDoc() {
    const form = formOf(F.type);
    const star = `<span class="yd-req" title="${esc(LF.required)}">*</span>`;
    const fields = form.fields.map((f) => `<div class="yd-field" data-field="${f.name}"><label for="yd-f-${f.name}">${esc(f.label)}${f.required ? star : ""}</label>${input(f)}</div>`).join("");
    const h = `<p class="yd-form-for">${esc(LF.for_student)}:<strong>${esc(F.name)}</strong></p>`
      + `<form id="yd-form" class="yd-form" autocomplete="off" novalidate data-type="${F.type}">`
      + `<div class="yd-form-errors" role="alert" tabindex="-1" hidden></div>${form.group ? groupField() : ""}${fields}`
      + `<div class="yd-field" data-field="narrative"><label for="yd-f-narrative">${esc(form.narrative.label)}${star}</label><textarea id="yd-f-narrative" name="narrative" rows="8" required aria-required="true"></textarea></div>`
      + `<div class="yd-field" data-field="photos"><label for="yd-f-photos">${esc(LF.photos)}</label><input id="yd-f-photos" name="photos" type="file" accept="image/*" multiple></div>`
      + `<p class="yd-form-buttons"><button type="submit" class="md-button md-button--primary">${esc(LF.submit)}</button> <button type="button" class="md-button yd-form-cancel">${esc(LF.cancel)}</button></p>`
      + `<div class="yd-sealed" role="status" hidden></div></form>`;
    return { t: form.title, h };
  }
  function groupField() {
    // A kind kept once for a group (an activity for a class): the other students this reader
    // may write for, to tick. Each ticked student's file gets the record; none shows the others.
    const mine = Object.values(S.index)
      .filter((e) => e[1] === "page" && /^students\/[^/]+\/$/.test(e[4]) && e[4].split("/")[1] !== F.student)
      .sort((a, b) => a[3].localeCompare(b[3], "zh-CN"));
    if (!mine.length) return "";
    const boxes = mine.map((e) => `<li><label><input type="checkbox" name="students" value="${esc(e[4].split("/")[1])}"> ${esc(e[3])}</label></li>`).join("");
    const filter = mine.length > 12 ? `<input type="search" class="yd-group-filter" aria-label="${esc(LF.group_filter)}" placeholder="${esc(LF.group_filter)}">` : "";
    return `<fieldset class="yd-field yd-group" data-field="students"><legend>${esc(LF.group)}</legend>`
      + `<p class="yd-hint">${esc(LF.group_hint)}</p>${filter}<ul class="yd-group-list">${boxes}</ul></fieldset>`;
  }
  document.addEventListener("input", (ev) => {
    if (!ev.target.classList || !ev.target.classList.contains("yd-group-filter")) return;
    const q = ev.target.value.trim();
    for (const li of ev.target.closest("fieldset").querySelectorAll("li")) li.hidden = !!q && !li.textContent.includes(q);
  });
  document.addEventListener("keydown", (ev) => {  // Enter in the filter filters; it does not send the form
    if (ev.key === "Enter" && ev.target.classList && ev.target.classList.contains("yd-group-filter")) ev.preventDefault();
  });
  function groupOf(formEl) {  // [this student, ...ticked], or null for the student's own record
    const ticked = [...formEl.querySelectorAll('input[name="students"]:checked')].map((b) => b.value);
    return ticked.length ? [F.student, ...ticked] : null;
  }
  function values(formEl) {
    const form = formOf(F.type);
    const record = { type: F.type };
    for (const f of form.fields) {
      const raw = formEl.elements[f.name].value.trim();
      if (!raw) continue;
      if (f.kind === "list") record[f.name] = raw.split(/[\n、,，;；]+/).map((x) => x.trim()).filter(Boolean);
      else if (f.kind === "bool") record[f.name] = raw === "true";
      else if (f.kind === "number") record[f.name] = Number(raw);
      else record[f.name] = raw;
    }
    return record;
  }
  function problems(formEl, record) {
    // The same messages as `yidang check` for the same mistakes (made by its code, at build).
    const form = formOf(F.type);
    const out = [];
    for (const f of form.fields) {
      const v = record[f.name];
      if (f.required && (v === undefined || (Array.isArray(v) && !v.length))) out.push([f.name, f.missing]);
      else if (f.too_short && Array.isArray(v) && !v.length) out.push([f.name, f.too_short]);
    }
    for (const [when, field, message] of form.requires || []) {  // rules declared on the type
      if (record[when[0]] === when[1] && !record[field]) out.push([field, message]);
    }
    for (const [field, other, message] of form.not_before || []) {
      if (record[field] && record[other] && record[field] < record[other]) {
        out.push([field, message.replace("{value}", record[field]).replace("{other_value}", record[other])]);
      }
    }
    if (record.date && record.date > today()) out.push(["date", C.forms.messages.future.replace("{date}", record.date)]);
    if (!formEl.elements.narrative.value.trim()) out.push(["narrative", form.narrative.missing]);
    const order = [...form.fields.map((f) => f.name), "narrative"];  // as the fields stand on the form
    return out.sort((a, b) => order.indexOf(a[0]) - order.indexOf(b[0]));
  }
  function label(name) {  // the field's Chinese name before check's own words
    const f = formOf(F.type).fields.find((x) => x.name === name);
    const text = f ? f.label : name === "narrative" ? formOf(F.type).narrative.label : "";
    return text ? `<strong>${esc(text)}</strong>:` : "";
  }
  function showProblems(formEl, found) {
    // Each problem under its own field (the words `yidang check` uses), and a summary at the
    // top whose items take the reader to the field.
    formEl.querySelectorAll(".yd-field").forEach((el) => el.classList.remove("yd-invalid"));
    formEl.querySelectorAll(".yd-field-error").forEach((el) => el.remove());
    formEl.querySelectorAll("[aria-invalid]").forEach((el) => { el.removeAttribute("aria-invalid"); el.removeAttribute("aria-describedby"); });
    const box = formEl.querySelector(".yd-form-errors");
    box.hidden = !found.length;
    box.innerHTML = found.length
      ? `<p>${esc(LF.problems)}</p><ul>${found.map(([name, m]) => `<li data-field="${esc(name)}">${name ? `<button type="button" class="yd-jump" data-field="${esc(name)}">` : ""}${label(name)}<span class="yd-message">${esc(m)}</span>${name ? "</button>" : ""}</li>`).join("")}</ul>`
      : "";
    for (const [name, m] of found) {
      const el = formEl.querySelector(`.yd-field[data-field="${name}"]`);
      if (!el) continue;
      el.classList.add("yd-invalid");
      const said = document.createElement("p");
      said.className = "yd-field-error"; said.id = `yd-err-${name}`; said.textContent = m;
      el.appendChild(said);
      const input = el.querySelector("input, select, textarea");
      if (input) { input.setAttribute("aria-invalid", "true"); input.setAttribute("aria-describedby", said.id); }
    }
    if (found.length) { box.scrollIntoView({ block: "start" }); box.focus({ preventScroll: true }); }
  }
  document.addEventListener("click", (ev) => {
    const b = ev.target.closest && ev.target.closest(".yd-jump");
    if (!b) return;
    ev.preventDefault();
    const input = document.getElementById(`yd-f-${b.dataset.field}`);
    if (input) { input.scrollIntoView({ block: "center" }); input.focus(); }
  });
  async function shrink(file) {
    // Drawn again on a canvas: at most 1600 px, and nothing of the camera's metadata (EXIF,
    // GPS) survives the re-encoding.
    const bmp = await createImageBitmap(file, { imageOrientation: "from-image" });
    const scale = Math.min(1, 1600 / Math.max(bmp.width, bmp.height));
    const c = document.createElement("canvas");
    c.width = Math.max(1, Math.round(bmp.width * scale));
    c.height = Math.max(1, Math.round(bmp.height * scale));
    c.getContext("2d").drawImage(bmp, 0, 0, c.width, c.height);
    bmp.close();
    const out = await new Promise((r) => c.toBlob(r, "image/jpeg", 0.85));
    return new Uint8Array(await out.arrayBuffer());
  }
  function b64(bytes) {  // URL-alphabet base64 without padding, as the build writes it
    let bin = "";
    for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function randomHex(n) {
    return Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => b.toString(16).padStart(2, "0")).join("");
  }
  function pad(bytes) {  // as the build pads blobs: 4-byte length, zeros up to a size bucket
    const size = bytes.length + 4;
    const step = size <= 1024 ? 1024 : 2 ** (Math.floor(Math.log2(size)) - 3);
    const out = new Uint8Array(Math.ceil(size / step) * step);
    new DataView(out.buffer).setUint32(0, bytes.length);
    out.set(bytes, 4);
    return out;
  }
  async function sealRecord(formEl, record) {
    const photos = [];
    for (const file of formEl.elements.photos.files) photos.push(await shrink(file));
    const payload = {
      format: SUBMISSION, id: randomHex(16), intake: C.intake.id, teacher: S.teacher, student: F.student,
      ...(groupOf(formEl) ? { students: groupOf(formEl) } : {}),
      created: new Date().toISOString(), record, body: formEl.elements.narrative.value.trim(),
      photos: photos.map((data, i) => ({ name: `${i + 1}.jpg`, data: b64(data) })),
    };
    const signed = enc.encode(JSON.stringify(payload));
    const sig = new Uint8Array(await subtle().sign({ name: "ECDSA", hash: "SHA-256" }, S.sign, signed));
    const inner = pad(enc.encode(JSON.stringify({ teacher: S.teacher, signed: b64(signed), sig: b64(sig) })));
    // Sealed to the school's intake key (ECDH-ES + HKDF-SHA256 + AES-256-GCM): only the office opens it.
    const info = enc.encode(`${SUBMISSION}|${C.intake.id}`);
    const eph = await subtle().generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"]);
    const pub = await subtle().importKey("raw", unb64(C.intake.key), { name: "ECDH", namedCurve: "P-256" }, false, []);
    const bits = await subtle().deriveBits({ name: "ECDH", public: pub }, eph.privateKey, 256);
    const hk = await subtle().importKey("raw", bits, "HKDF", false, ["deriveKey"]);
    const key = await subtle().deriveKey({ name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info }, hk,
      { name: "AES-GCM", length: 256 }, false, ["encrypt"]);
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const ct = new Uint8Array(await subtle().encrypt({ name: "AES-GCM", iv, additionalData: info }, key, inner));
    const epk = new Uint8Array(await subtle().exportKey("raw", eph.publicKey));
    const data = new Uint8Array(12 + ct.length);
    data.set(iv);
    data.set(ct, 12);
    const outer = JSON.stringify({ format: SUBMISSION, intake: C.intake.id, epk: b64(epk), data: b64(data) });
    return new File([outer], `yidang-${randomHex(8)}.yidang`, { type: "application/octet-stream" });
  }
  async function deliver(formEl, file) {
    const box = formEl.querySelector(".yd-sealed");
    const u = URL.createObjectURL(file);
    urls.push(u);
    let said = LF.not_sent;
    if (C.intake.url) {
      try {
        const headers = S.upload ? { Authorization: `Basic ${btoa(S.upload.join(":"))}` } : {};
        // credentials "omit": a refused credential is an answer, never the browser's login box
        const r = await fetch(new URL(file.name, new URL(C.intake.url, location.href)),
          { method: "PUT", body: file, headers, credentials: "omit" });
        said = r.ok ? LF.uploaded : LF.upload_failed;
        if (r.ok) F.dirty = false;
      } catch (e) { said = LF.upload_failed; }
    }
    const share = navigator.canShare && navigator.canShare({ files: [file] });
    box.innerHTML = `<p class="yd-sealed-says">${esc(said)}</p><p><a class="md-button" href="${u}" download="${esc(file.name)}" data-sealed>${esc(LF.download)}</a>`
      + (share ? ` <button type="button" class="md-button yd-share">${esc(LF.share)}</button>` : "") + "</p>";
    box.hidden = false;
    const shareButton = box.querySelector(".yd-share");
    const sent = () => { if (F) F.dirty = false; };
    box.querySelector("[data-sealed]").addEventListener("click", sent);
    if (shareButton) shareButton.addEventListener("click", () => navigator.share({ files: [file] }).then(sent, () => {}));
    box.scrollIntoView({ block: "center" });
  }
  function openForm(route, type, name, back) {
    // ``name`` and ``back``: from a list of students whose page this reader may not have (the
    // counsellors' page offers a first session for any open case); cancel goes ``back``.
    const entry = entryOf(route);
    F = { route, student: route.split("/")[1], name: entry ? entry[3] : name || "", type, dirty: false, back: back || route };
    if (token() === FORM) show(); else location.hash = "#/" + FORM;
  }
  document.addEventListener("click", (ev) => {
    const b = ev.target.closest && ev.target.closest(".yd-write-type, .yd-form-cancel");
    if (!b || !S) return;
    ev.preventDefault();
    if (b.classList.contains("yd-write-type")) openForm(b.dataset.route, b.dataset.type, b.dataset.name, b.dataset.back);
    else if (!F.dirty || confirm(LF.leave)) { const back = F.back || F.route; F = null; location.hash = linkTo(back); }
  });
  document.addEventListener("input", (ev) => { if (F && ev.target.closest && ev.target.closest("#yd-form")) F.dirty = true; });
  document.addEventListener("submit", async (ev) => {
    const formEl = ev.target.closest && ev.target.closest("#yd-form");
    if (!formEl || !S || !F) return;
    ev.preventDefault();
    const record = values(formEl);
    const found = problems(formEl, record);
    showProblems(formEl, found);
    if (found.length) return;
    const button = formEl.querySelector("button[type=submit]");
    button.disabled = true;
    let file;
    try { file = await sealRecord(formEl, record); }
    catch (e) { showProblems(formEl, [["", `${L.failed}: ${e.message}`]]); button.disabled = false; return; }
    // One record, one file: the form is done (a second tap cannot seal a second copy), and
    // leaving still asks until the file is uploaded, downloaded or shared.
    button.textContent = LF.sealed_button;
    for (const el of formEl.querySelectorAll("input, select, textarea")) el.disabled = true;
    F.sealed = true;
    await deliver(formEl, file);
  });
  addEventListener("beforeunload", (ev) => { if (F && F.dirty) { ev.preventDefault(); ev.returnValue = ""; } });

  function unseen(img) {
    // A group activity's photo this reader holds no key for (it shows students whose files
    // they may not read): said once, in the photos' place, never an empty frame.
    const box = img.closest("[data-unseen]");
    if (!box) return;
    img.closest("figure").remove();
    if (box.querySelector(".yd-unseen")) return;
    const said = document.createElement("p");
    said.className = "yd-meta yd-unseen";
    said.textContent = box.dataset.unseen;
    box.prepend(said);
  }
  function fileFailed(el, e) {
    // A photo or booklet whose file is not what the index says (changed, or another's copied
    // over it): said where it would have been, never a silent empty space.
    const said = document.createElement("p");
    said.className = "yd-blob-error";
    said.setAttribute("role", "alert");
    said.textContent = e instanceof BlobError ? e.message : `${L.failed}: ${e.message}`;
    el.after(said);
  }
  async function download(route, link) {
    let u;
    try { u = await fileUrl(route, "application/pdf"); } catch (e) { fileFailed(link, e); return; }
    if (!u) return;
    const dl = document.createElement("a");
    // Not the student's id or name: the browser keeps downloads' names in its history.
    dl.href = u; dl.download = `${L.booklet_file}-${S.byRoute[route]}.pdf`; dl.click();
  }
  document.addEventListener("click", (ev) => {
    const a = ev.target.closest && ev.target.closest("a[data-file], a[data-anchor]");
    if (!a || !S) return;
    ev.preventDefault();
    if (a.dataset.file) download(a.dataset.file, a);
    else { const t = document.getElementById(a.dataset.anchor); if (t) t.scrollIntoView(); }
  });
  document.addEventListener("keydown", (ev) => {
    const a = ev.target.closest && ev.target.closest("a[data-file]");
    if (a && S && (ev.key === "Enter" || ev.key === " ")) { ev.preventDefault(); download(a.dataset.file, a); }
  });

  // --- the shell ---------------------------------------------------------------
  function showLogin(message) {
    $("#yd-login").hidden = false;
    $("#yd-pass").type = "password";  // never left showing for the next person
    $("#yd-show").textContent = L.show;
    $("#yd-page").hidden = true;
    $("#yd-logout").hidden = true;
    $("#yd-search").hidden = true;
    $("#yd-error").textContent = message;
    document.title = C.site_name;
    for (const a of document.querySelectorAll(".md-nav--primary a.md-nav__link, .md-tabs a")) a.hidden = false;
  }
  async function enter(session) {
    S = session;
    touch();
    $("#yd-login").hidden = true;
    $("#yd-page").hidden = false;
    $("#yd-logout").hidden = false;
    $("#yd-search").hidden = false;
    for (const a of document.querySelectorAll(".md-nav--primary a.md-nav__link[href], .md-tabs a[href]")) {
      const target = a.dataset.route !== undefined ? a.dataset.route : resolve(a.getAttribute("href"), "");
      if (target === null) continue;
      a.dataset.route = target;
      a.setAttribute("href", linkTo(target));
      a.hidden = target !== "" && !S.byRoute[target];
    }
    if (await restoreDraft()) {
      if (token() === FORM) await show(); else location.hash = "#/" + FORM;
      return;
    }
    await show();
  }
  function setup() {
    const header = $(".md-header__inner");
    const out = document.createElement("button");
    out.id = "yd-logout"; out.className = "md-header__button yd-logout"; out.hidden = true;
    out.textContent = L.logout;
    out.addEventListener("click", () => { if (!F || !F.dirty || confirm(LF.leave)) logout(L.logged_out); });
    const form = document.createElement("form");
    form.id = "yd-search"; form.className = "yd-search"; form.hidden = true; form.setAttribute("role", "search");
    // autocomplete off: the browser neither remembers the words nor restores them after a restart.
    form.innerHTML = `<input type="search" name="q" autocomplete="off" aria-label="${esc(L.search)}">`;
    // A phone's header has room for «搜索», not for the whole sentence (aria-label keeps it).
    const phone = matchMedia("(max-width: 44.9375em)");
    const placeholder = () => { form.q.placeholder = phone.matches ? L.search_title : L.search; };
    placeholder();
    phone.addEventListener("change", placeholder);
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      query = form.q.value.trim();
      if (!query) return;
      if (token() === SEARCH) show(); else location.hash = "#/" + SEARCH;
    });
    header.appendChild(form);
    header.appendChild(out);
    for (const a of document.querySelectorAll(".md-nav--primary a.md-nav__link[href], .md-tabs a[href]")) {
      a.dataset.route = resolve(a.getAttribute("href"), "") ?? "";
      a.setAttribute("href", "#/");
    }
    if (!(window.crypto && window.crypto.subtle) && C.plain_http) {
      // Said for as long as the page is open: the page itself could be changed on the way.
      const warn = document.createElement("p");
      warn.className = "yd-insecure"; warn.setAttribute("role", "alert"); warn.textContent = L.insecure;
      $("#yd-login").before(warn);
      if (!window.ydSubtle) {
        $("#yd-login").hidden = true;
        addEventListener("yd-subtle", () => setup2(), { once: true });
        return;
      }
    }
    setup2();
  }
  function setup2() {
    if (!subtle()) {
      $("#yd-login").hidden = true;
      // A phone cannot open a copied folder: there, the office must give an https address.
      const phone = matchMedia("(max-width: 600px), (pointer: coarse)").matches;
      $("#yd-error").textContent = (phone ? L.no_webcrypto_phone : L.no_webcrypto).replace("{url}", location.href);
      return;
    }
    $("#yd-login").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      $("#yd-error").textContent = L.working;
      const button = $("#yd-login button[type=submit]"); button.disabled = true;
      try {
        const s = await login($("#yd-user").value.trim().toUpperCase(), $("#yd-pass").value);
        $("#yd-pass").value = "";
        $("#yd-error").textContent = "";
        await enter(s);
      } catch (e) {
        const said = [L.bad_login, L.incomplete].includes(e.message) || e.message.startsWith(L.other_school.slice(0, 8));
        $("#yd-error").textContent = said ? e.message : `${L.failed}: ${e.message}`;
        $("#yd-pass").focus();
      }
      finally { button.disabled = false; }
    });
    addEventListener("hashchange", () => {
      if (F && F.dirty && token() !== FORM) {
        if (!confirm(LF.leave)) { history.replaceState(null, "", "#/" + FORM); return; }
        F = null;
      } else if (F && token() !== FORM) F = null;
      show().catch((e) => { $("#yd-page").textContent = `${L.failed}: ${e.message}`; });
    });
    if (C.school) $("#yd-school").textContent = L.school.replace("{school}", C.school);
    $("#yd-show").addEventListener("click", () => {
      const pass = $("#yd-pass");
      const shown = pass.type === "text";
      pass.type = shown ? "password" : "text";
      $("#yd-show").textContent = shown ? L.show : L.hide;
      $("#yd-show").setAttribute("aria-pressed", String(!shown));
      pass.focus();
    });
    showLogin("");
    $("#yd-user").focus();
  }
  setup();
})();
