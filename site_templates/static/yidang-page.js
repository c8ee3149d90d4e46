/* yidang page helpers: charts, and tables that read as cards on a phone.
 *
 * Charts: every <figure class="yd-chart"> in a page is drawn with Apache ECharts.
 *
 * Each figure carries its numbers (computed at build time by the four-ones engine,
 * the same that `yidang check --as-of` and the ledger use) in data-spec, and a data
 * table for screen readers and for anyone who would rather read the numbers. The
 * charts draw as SVG (crisp in print), in the page's own fonts. ECharts itself (1.1 MB, the
 * site's own copy beside this file) is loaded the first time a page has a chart: the login
 * page and pages without charts never download it. Nothing comes from another origin.
 * The protected site calls ydPage(page) after each decrypted page, and ydPage.dispose at
 * logout: ECharts keeps every chart it drew, with its data, in a registry any script of the
 * page can ask (echarts.getInstanceById), until the chart is disposed. A plaintext page
 * draws its charts when it loads. */
(() => {
  "use strict";
  const COLORS = ["#3f51b5", "#ef6c00", "#2e7d32", "#c62828", "#6a1b9a", "#00838f", "#8d6e63", "#546e7a"];
  const drawn = new Set();
  // ECharts sits in vendor/ beside this script, wherever the page that loaded it is.
  const LIBRARY = new URL("vendor/echarts.min.js", document.currentScript.src).href;
  let library = null;  // the one load of ECharts, once a page has asked for it

  function echarts() {
    if (window.echarts) return Promise.resolve();
    if (!library) {
      library = new Promise((resolve, reject) => {
        const s = document.createElement("script");
        s.src = LIBRARY;
        s.onload = () => resolve();
        // Offline before any chart was seen: the figure's data table still gives the numbers.
        s.onerror = () => { s.remove(); library = null; reject(new Error(LIBRARY)); };
        document.head.appendChild(s);
      });
    }
    return library;
  }

  function option(spec) {
    const percent = spec.unit === "%";
    const value = { type: "value", max: percent ? 100 : null, minInterval: percent ? null : 1,
                    axisLabel: { formatter: percent ? "{value}%" : "{value}" } };
    // Bars by category lie down: a category's name (有叛逆厌学和辍学倾向学生) needs the room, and
    // ECharts hid a name that did not fit under an upright bar.
    const horizontal = spec.kind === "hbar" || spec.kind === "stack";
    const category = { type: "category", data: spec.x, axisLabel: { interval: 0, hideOverlap: !horizontal } };
    const series = spec.series.map((s, i) => ({
      name: s.name,
      type: spec.kind === "line" ? "line" : "bar",
      stack: spec.kind === "stack" ? "all" : undefined,
      data: s.data,
      connectNulls: false,
      label: { show: spec.kind !== "stack" && spec.x.length <= 24, position: horizontal ? "right" : "top",
               formatter: (p) => (p.value === null || p.value === undefined ? "" : `${p.value}${percent ? "%" : ""}`) },
      itemStyle: { color: COLORS[i % COLORS.length] },
    }));
    return {
      animation: false,
      aria: { enabled: true, decal: { show: spec.series.length > 1 } },
      color: COLORS,
      textStyle: { fontFamily: "inherit" },
      tooltip: { trigger: "axis" },
      legend: spec.series.length > 1 ? { top: 0 } : undefined,
      grid: { left: 8, right: 48, top: spec.series.length > 1 ? 40 : 24, bottom: 8, containLabel: true },
      xAxis: horizontal ? value : category,
      yAxis: horizontal ? { ...category, inverse: true } : value,
      series,
    };
  }

  function height(spec) {
    if (spec.kind === "hbar") return Math.max(160, 28 * spec.x.length + 40);
    if (spec.kind === "stack") return Math.max(200, 36 * spec.x.length + 64);
    return 260;
  }

  function draw(figure) {
    // a page left (or a logout) while ECharts was loading: nothing to draw there any more
    if (!window.echarts || drawn.has(figure) || !figure.isConnected) return;
    const spec = JSON.parse(figure.dataset.spec);
    const box = figure.querySelector(".yd-chart-box");
    box.style.height = `${height(spec)}px`;
    const chart = window.echarts.init(box, null, { renderer: "svg" });
    chart.setOption(option(spec));
    figure.dataset.drawn = "1";
    drawn.add(figure);
    figure._chart = chart;
  }

  // On a narrow screen a table with a header row becomes one card per row, each cell
  // labelled with its column's header (CSS does the layout; this gives the labels).
  function cards(root) {
    for (const table of root.querySelectorAll(".yd-table table")) {
      const heads = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
      if (!heads.length) continue;
      table.classList.add("yd-cards");
      for (const row of table.querySelectorAll("tbody tr")) {
        [...row.children].forEach((cell, i) => { if (heads[i]) cell.dataset.label = heads[i]; });
      }
    }
  }
  function dispose(figure) {
    if (figure._chart && !figure._chart.isDisposed()) figure._chart.dispose();
    delete figure._chart;
    delete figure.dataset.drawn;
    drawn.delete(figure);
  }
  function disposeGone() {  // charts of a page no longer shown: their data goes with them
    for (const figure of [...drawn]) if (!figure.isConnected) dispose(figure);
  }
  window.ydPage = (root) => {
    root = root || document;
    disposeGone();
    cards(root);
    const figures = [...root.querySelectorAll("figure.yd-chart")];
    if (figures.length) echarts().then(() => figures.forEach(draw), () => {});
  };
  // Every chart this script drew, and any other ECharts instance under ``root``: disposed.
  window.ydPage.dispose = (root) => {
    for (const figure of [...drawn]) dispose(figure);
    if (!window.echarts) return;
    for (const el of (root || document).querySelectorAll("[_echarts_instance_]")) {
      const chart = window.echarts.getInstanceByDom(el);
      if (chart) chart.dispose();
    }
  };
  // The header's title on a phone: a name like «一生一档 · 特殊群体学生关爱帮扶档案» cannot fit
  // beside the search box and would be cut to «一生一…»; the part before « · » stands alone
  // there (CSS hides the rest below Material's phone breakpoint), whole on a wider screen.
  function shortTitle() {
    const span = document.querySelector(".md-header__topic:first-child .md-ellipsis");
    const full = span ? span.textContent.trim() : "";
    const cut = full.indexOf(" · ");
    if (cut < 1) return;
    const short = document.createElement("span");
    short.className = "yd-title-short";
    short.textContent = full.slice(0, cut);
    const rest = document.createElement("span");
    rest.className = "yd-title-rest";
    rest.textContent = full.slice(cut);
    span.replaceChildren(short, rest);
  }
  shortTitle();
  function resizeAll() {
    disposeGone();
    for (const figure of drawn) if (figure._chart) figure._chart.resize();
  }
  addEventListener("resize", resizeAll);
  addEventListener("beforeprint", resizeAll);
  addEventListener("afterprint", resizeAll);
  if (!document.getElementById("yd-config")) {  // a plaintext page (unprotected build, preview)
    if (document.readyState === "loading") addEventListener("DOMContentLoaded", () => window.ydPage(document));
    else window.ydPage(document);
  }
})();
