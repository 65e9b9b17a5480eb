// Opens a backtest's report.html from disk in headless Chromium:
//   node report_check.js REPORT_HTML SUMMARY_JSON TRADES_CSV OUT_DIR
// The page must load with no console error and request nothing but itself;
// the summary.json embedded in it and every number of its summary table must
// equal the file's; it must fit a 1366-pixel-wide laptop screen; clicking a
// trade-list header must sort the list by that column; each traded symbol
// must have a price chart with one entry and one exit marker per trade (or be
// named as having no price series). Screenshots land in OUT_DIR.
"use strict";
const { chromium } = require("playwright-core");
const fs = require("fs");
const path = require("path");
const util = require("util");

const [htmlPath, jsonPath, csvPath, outDir] = process.argv.slice(2);
const problems = [];
const fail = (msg) => { console.log("FAIL " + msg); process.exitCode = 1; };
const ok = (msg) => console.log("OK   " + msg);

// Trades per symbol from trades.csv (symbols hold no commas).
function tradesBySymbol() {
  const lines = fs.readFileSync(csvPath, "utf8").trim().split("\n").slice(1);
  const n = {};
  for (const l of lines) {
    const sym = l.split(",")[1];
    n[sym] = (n[sym] || 0) + 1;
  }
  return { n, total: lines.length };
}

function checkSorted(values, asc) {
  for (let i = 1; i < values.length; i++)
    if (asc ? values[i] < values[i - 1] : values[i] > values[i - 1]) return false;
  return true;
}

async function columnValues(page, col, numeric) {
  return page.$$eval("#trades tbody tr", (rows, a) => rows.map((r) => {
    const c = r.cells[a.col];
    return a.numeric ? parseFloat(c.dataset.v !== undefined ? c.dataset.v : c.textContent) : c.textContent;
  }), { col, numeric });
}

async function main() {
  const url = "file://" + path.resolve(htmlPath);
  const summary = JSON.parse(fs.readFileSync(jsonPath, "utf8"));
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
  try {
    const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
    page.on("console", (m) => { if (m.type() === "error") problems.push("console: " + m.text()); });
    page.on("pageerror", (e) => problems.push("page error: " + e.message));
    const requests = [];
    page.on("request", (r) => requests.push(r.url()));
    await page.goto(url, { waitUntil: "load" });
    await page.waitForTimeout(200); // anything the page would fetch late
    const others = requests.filter((u) => u !== url);
    if (others.length > 0) fail("requests other than the page: " + others.join(", "));
    else ok("the page requested nothing but itself (" + requests.length + " request)");

    // summary.json, embedded and shown.
    const embedded = JSON.parse(await page.textContent("#summary-json"));
    if (!util.isDeepStrictEqual(embedded, summary)) fail("the embedded summary.json differs from the file");
    else ok("embedded summary.json equals the file");
    const rows = await page.$$eval("#summary tbody tr", (trs) => trs.map((tr) => ({
      name: tr.dataset.name,
      cells: Array.from(tr.querySelectorAll("td[data-k]")).map((td) => ({
        k: td.dataset.k, v: td.dataset.v, f: td.dataset.f, text: td.textContent })),
    })));
    if (rows.length !== summary.bots.length + 1) fail("summary rows: " + rows.length + ", bots + total: " + (summary.bots.length + 1));
    const spanDays = (Date.parse(summary.to) - Date.parse(summary.from)) / 86400000;
    let checked = 0;
    for (const row of rows) {
      const obj = row.name === "TOTAL" ? summary.total : summary.bots.find((b) => b.name === row.name);
      if (!obj) { fail("summary row " + row.name + " is not in summary.json"); continue; }
      if (row.cells.length < 10) fail(row.name + ": only " + row.cells.length + " numbers");
      for (const c of row.cells) {
        const want = obj[c.k];
        const where = row.name + "." + c.k;
        if (want === undefined) { fail(where + " is not in summary.json"); continue; }
        if (c.v === "null" ? want !== null : Number(c.v) !== want) { fail(where + ": data-v " + c.v + ", summary.json " + want); continue; }
        const hidden = want === null || (c.k === "cagr" && spanDays < 365);
        if (hidden) {
          const sign = c.k === "profit_factor" && obj.profit_factor_infinite ? "\u221e" : "\u2013";
          if (c.text !== sign) fail(where + ": shows " + c.text + " for " + want);
          checked++;
          continue;
        }
        const dec = Number(c.f[1]), pct = c.f[0] === "p";
        const shown = parseFloat(c.text), value = pct ? want * 100 : want;
        if (pct !== c.text.endsWith("%") || !(Math.abs(shown - value) <= 0.5 * Math.pow(10, -dec) + 1e-9))
          fail(where + ": shows " + c.text + ", summary.json " + want);
        checked++;
      }
    }
    ok(checked + " summary numbers equal summary.json's");

    // A laptop screen: nothing wider than the window.
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    if (width > 1366) fail("the page is " + width + " px wide, wider than a 1366 px screen");
    else ok("the page fits 1366 px (" + width + " px)");

    // Price charts: one per traded symbol with a series, every fill marked.
    const trades = tradesBySymbol();
    const charts = await page.$$eval(".price", (ds) => ds.map((d) => {
      const count = (cls) => {
        const p = d.querySelector("polyline." + cls);
        return p ? { n: Number(p.dataset.n), points: p.getAttribute("points").trim().split(/\s+/).length } : { n: 0, points: 0 };
      };
      return { symbol: d.dataset.symbol, entries: count("entries"), exits: count("exits"),
               curve: d.querySelectorAll("polyline:not([class])").length };
    }));
    const unpriced = await page.$$eval("#unpriced .sym", (ss) => ss.map((s) => s.textContent));
    for (const sym of Object.keys(trades.n)) {
      const c = charts.find((x) => x.symbol === sym);
      if (c === undefined) {
        if (!unpriced.includes(sym)) fail(sym + ": traded, but neither charted nor named as unpriced");
        continue;
      }
      const want = trades.n[sym];
      for (const kind of ["entries", "exits"])
        if (c[kind].n !== want || c[kind].points !== want)
          fail(sym + ": " + c[kind].points + " " + kind + " markers (data-n " + c[kind].n + ") for " + want + " trades");
      if (c.curve !== 1) fail(sym + ": no price curve");
    }
    if (charts.length === 0) fail("no price chart");
    for (const c of charts) if (trades.n[c.symbol] === undefined) fail(c.symbol + ": charted but never traded");
    ok(charts.length + " price charts with a marker per entry and exit (" +
       charts.map((c) => c.symbol + " " + c.entries.points).join(", ") + "); " + unpriced.length + " unpriced symbols");

    // Equity per bot and in total; the monthly table.
    const equity = await page.$$eval(".chart[data-bot]", (ds) => ds.map((d) => d.dataset.bot));
    for (const name of ["TOTAL"].concat(summary.bots.map((b) => b.name)))
      if (!equity.includes(name)) fail("no equity chart for " + name);
    const months = await page.$$eval("#monthly tbody tr", (trs) => trs.length);
    if (months < 1) fail("no monthly returns");
    ok("equity charts for " + equity.join(", ") + "; " + months + " years of monthly returns");

    // Sorting the trade list.
    const heads = await page.$$eval("#trades thead th", (ths) => ths.map((t) => t.textContent));
    for (const [name, numeric] of [["PnL", true], ["symbol", false], ["entry price", true]]) {
      const col = heads.indexOf(name);
      if (col < 0) { fail("no " + name + " column"); continue; }
      const th = (await page.$$("#trades thead th"))[col];
      await th.click();
      const asc = await columnValues(page, col, numeric);
      await th.click();
      const desc = await columnValues(page, col, numeric);
      if (!checkSorted(asc, true) || !checkSorted(desc, false)) fail("clicking " + name + " does not sort the list");
      else ok("clicking " + name + " sorts " + asc.length + " rows up, then down");
    }
    if ((await page.$$("#trades tbody tr")).length !== Math.min(trades.total, 500))
      fail("the trade list does not show min(trades, 500) rows");

    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: outDir + "/report-screen.png" });
    await page.screenshot({ path: outDir + "/report.png", fullPage: true });
    ok("screenshots in " + outDir + " (report.png, report-screen.png)");
  } finally {
    await browser.close();
  }
  for (const p of problems) fail(p);
  if (problems.length === 0) ok("no console errors or page errors");
}

main().catch((e) => { fail(e.stack || String(e)); });
