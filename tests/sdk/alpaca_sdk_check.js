// Alpaca's official JavaScript SDK (@alpacahq/alpaca-trade-api, pinned in
// package.json) against hydra-exchange: every call a trading client makes,
// each result's shape and values asserted. Prints one line per call (OK,
// FAIL or SKIP with the reason) and exits 1 on any FAIL.
//
//   node alpaca_sdk_check.js <base url>      (ALPACA_KEY / ALPACA_SECRET set)
"use strict";
const Alpaca = require("@alpacahq/alpaca-trade-api");

const base = process.argv[2];
const alpaca = new Alpaca({
  keyId: process.env.ALPACA_KEY,
  secretKey: process.env.ALPACA_SECRET,
  baseUrl: base,
  dataBaseUrl: base,
  paper: true,
  feed: "iex",
});

const results = [];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function check(cond, what) {
  if (!cond) throw new Error("expected " + what);
}

async function call(name, fn) {
  try {
    const note = await fn();
    results.push([name, "OK", note || ""]);
  } catch (e) {
    if (e && e.skip) {
      results.push([name, "SKIP", e.message]);
      return;
    }
    const body = e && e.response && e.response.data ? JSON.stringify(e.response.data) : "";
    results.push([name, "FAIL", (e && e.message ? e.message : String(e)) + " " + body]);
  }
}

function skip(message) {
  const e = new Error(message);
  e.skip = true;
  return e;
}

// The SDK throws on a refusal; the status and Alpaca's body are on the error.
async function refused(fn) {
  try {
    await fn();
  } catch (e) {
    return e.response ? { status: e.response.status, body: e.response.data } : { status: 0 };
  }
  return null;
}

async function control(path, body) {
  const r = await fetch(base + path, { method: "POST", body: JSON.stringify(body) });
  check(r.ok, path + " answers 200");
  return r.json();
}

function isDecimal(s) {
  return typeof s === "string" && /^-?[0-9]+(\.[0-9]+)?(e-?[0-9]+)?$/.test(s);
}

async function main() {
  // Into the first session (06:30 Pacific = 09:30 Eastern).
  await control("/_hydra/step", { steps: 35 });
  const ids = {};

  await call("getAccount", async () => {
    const a = await alpaca.getAccount();
    check(a.status === "ACTIVE", "status ACTIVE");
    check(UUID.test(a.id), "a UUID id");
    for (const k of ["cash", "equity", "buying_power", "last_equity", "portfolio_value", "long_market_value"])
      check(isDecimal(a[k]), k + " a decimal string");
    check(a.trading_blocked === false && a.account_blocked === false, "not blocked");
    return "cash " + a.cash;
  });
  await call("getAccountConfigurations", async () => {
    const c = await alpaca.getAccountConfigurations();
    check(typeof c.fractional_trading === "boolean", "fractional_trading");
  });
  await call("getClock", async () => {
    const c = await alpaca.getClock();
    check(c.is_open === true, "the market open");
    check(/-0[45]:00$/.test(c.timestamp) && /T16:00:00-0[45]:00$/.test(c.next_close), "US/Eastern times");
    return c.timestamp;
  });
  await call("getCalendar", async () => {
    try {
      const days = await alpaca.getCalendar({ start: "2006-01-02", end: "2006-01-06" });
      check(Array.isArray(days) && days.length > 0 && days[0].open && days[0].close, "trading days");
      return days.length + " days";
    } catch (e) {
      if (e.response && e.response.status === 404)
        throw skip("GET /v2/calendar is not served by this hydra-exchange (404)");
      throw e;
    }
  });
  await call("getAssets", async () => {
    const as = await alpaca.getAssets({ status: "active" });
    check(as.some((a) => a.symbol === "FESX" && a.tradable), "FESX tradable");
  });
  await call("getAsset", async () => {
    const a = await alpaca.getAsset("FESX");
    check(a.symbol === "FESX" && a.class === "us_equity", "FESX us_equity");
  });

  const orders = [
    ["market day", { symbol: "FESX", qty: 3, side: "buy", type: "market", time_in_force: "day", client_order_id: "sdk-market" }],
    ["limit gtc", { symbol: "ORCL", qty: 1, side: "buy", type: "limit", limit_price: 1.5, time_in_force: "gtc", client_order_id: "sdk-limit" }],
    ["stop", { symbol: "FESX", qty: 1, side: "buy", type: "stop", stop_price: 5000, time_in_force: "gtc", client_order_id: "sdk-stop" }],
    ["stop_limit", { symbol: "FESX", qty: 1, side: "buy", type: "stop_limit", stop_price: 5000, limit_price: 5000.5, time_in_force: "day", client_order_id: "sdk-stop-limit" }],
    ["trailing_stop", { symbol: "FESX", qty: 1, side: "buy", type: "trailing_stop", trail_percent: 50, time_in_force: "gtc", client_order_id: "sdk-trail" }],
    ["ioc", { symbol: "FESX", qty: 1, side: "buy", type: "limit", limit_price: 1, time_in_force: "ioc", client_order_id: "sdk-ioc" }],
    ["fok", { symbol: "FESX", qty: 1, side: "buy", type: "limit", limit_price: 1, time_in_force: "fok", client_order_id: "sdk-fok" }],
    ["cls", { symbol: "FESX", qty: 1, side: "buy", type: "market", time_in_force: "cls", client_order_id: "sdk-cls" }],
    ["crypto notional gtc", { symbol: "BTC/USD", notional: 500, side: "buy", type: "market", time_in_force: "gtc", client_order_id: "sdk-btc" }],
  ];
  for (const [name, o] of orders) {
    await call("createOrder " + name, async () => {
      const r = await alpaca.createOrder(o);
      check(UUID.test(r.id), "a UUID id");
      check(r.client_order_id === o.client_order_id && r.type === o.type && r.time_in_force === o.time_in_force, "the order echoed");
      check(r.status === "new", "status new");
      ids[o.client_order_id] = r.id;
    });
  }
  await call("createOrder opg in session (refused)", async () => {
    const r = await refused(() => alpaca.createOrder({ symbol: "FESX", qty: 1, side: "buy", type: "market", time_in_force: "opg" }));
    check(r && r.status === 422, "422");
    return r.body.message;
  });
  await call("createOrder sub-penny (refused)", async () => {
    const r = await refused(() => alpaca.createOrder({ symbol: "FESX", qty: 1, side: "buy", type: "limit", limit_price: "10.001", time_in_force: "day" }));
    check(r && r.status === 422 && r.body.code === 42210000 && /sub-penny/.test(r.body.message), "422 42210000 sub-penny");
  });
  await call("createOrder fractional gtc (refused)", async () => {
    const r = await refused(() => alpaca.createOrder({ symbol: "FESX", qty: 0.5, side: "buy", type: "market", time_in_force: "gtc" }));
    check(r && r.status === 422 && r.body.message === "fractional orders must be DAY orders", "422 fractional");
  });
  await call("createOrder duplicate client_order_id (refused)", async () => {
    const r = await refused(() => alpaca.createOrder(orders[0][1]));
    check(r && r.status === 422 && /client_order_id must be unique/.test(r.body.message), "422 unique");
  });
  await call("getOrder", async () => {
    const o = await alpaca.getOrder(ids["sdk-limit"]);
    check(o.client_order_id === "sdk-limit" && o.limit_price === "1.5", "the limit order");
  });
  await call("getOrderByClientId", async () => {
    const o = await alpaca.getOrderByClientId("sdk-trail");
    check(o.id === ids["sdk-trail"] && o.trail_percent === "50" && isDecimal(o.hwm), "the trailing order with hwm");
  });
  await call("cancelOrder", async () => {
    await alpaca.cancelOrder(ids["sdk-limit"]);
    const o = await alpaca.getOrder(ids["sdk-limit"]);
    check(o.status === "canceled" && o.canceled_at, "canceled");
  });

  await control("/_hydra/step", { steps: 3 });
  await call("getOrders with filters", async () => {
    const open = await alpaca.getOrders({ status: "open" });
    const closed = await alpaca.getOrders({ status: "closed", direction: "asc", limit: 50 });
    const aapl = await alpaca.getOrders({ status: "all", symbols: "FESX", limit: 2 });
    check(open.every((o) => o.status === "new" || o.status === "partially_filled"), "open orders only");
    check(closed.length >= 4 && closed[0].client_order_id === "sdk-market", "closed, oldest first");
    check(aapl.length === 2 && aapl.every((o) => o.symbol === "FESX"), "FESX, limit 2");
    return open.length + " open, " + closed.length + " closed";
  });
  await call("getPositions", async () => {
    const ps = await alpaca.getPositions();
    const a = ps.find((p) => p.symbol === "FESX");
    check(a && a.qty === "3" && isDecimal(a.avg_entry_price) && isDecimal(a.unrealized_intraday_pl), "FESX 3");
    check(ps.some((p) => p.symbol === "BTCUSD" && p.asset_class === "crypto"), "BTCUSD crypto");
  });
  await call("getPosition (crypto, fee in coin)", async () => {
    const o = await alpaca.getOrderByClientId("sdk-btc");
    const p = await alpaca.getPosition("BTCUSD");
    check(o.status === "filled", "the BTC buy filled");
    const want = Number(o.filled_qty) * (1 - 0.0025);
    check(Math.abs(Number(p.qty) - want) < 1e-12, "position = filled_qty less the 25 bps fee in coin");
    return "filled " + o.filled_qty + ", held " + p.qty;
  });
  await call("closePosition", async () => {
    const o = await alpaca.closePosition("FESX");
    check(o.side === "sell" && o.qty === "3" && o.symbol === "FESX", "a market sell of 3");
  });

  await call("getLatestTrade", async () => {
    const t = await alpaca.getLatestTrade("FESX");
    check(t.Price > 0 && t.Size > 0 && t.Timestamp, "price, size, time");
    return "FESX " + t.Price;
  });
  await call("getLatestTrades", async () => {
    const m = await alpaca.getLatestTrades(["FESX", "ORCL"]);
    check(m.get("FESX").Price > 0 && m.get("ORCL").Price > 0, "both symbols");
  });
  await call("getLatestQuote", async () => {
    const q = await alpaca.getLatestQuote("FESX");
    check(q.BidPrice > 0 && q.AskPrice > q.BidPrice, "bid below ask");
  });
  await call("getLatestQuotes", async () => {
    const m = await alpaca.getLatestQuotes(["FESX", "NVDA"]);
    check(m.get("NVDA").AskPrice > 0, "NVDA quote");
  });
  await call("getBarsV2 (paged)", async () => {
    const bars = [];
    for await (const b of alpaca.getBarsV2("FESX", { start: "2006-01-02T00:00:00Z", timeframe: alpaca.newTimeframe(1, "Min"), limit: 25, pageLimit: 10 }))
      bars.push(b);
    check(bars.length === 25, "25 bars over three pages");
    check(bars.every((b) => b.OpenPrice > 0 && b.HighPrice >= b.LowPrice), "OHLC");
    check(bars[0].Timestamp < bars[24].Timestamp, "oldest first");
    return bars.length + " bars";
  });
  await call("getMultiBarsV2", async () => {
    // limit counts every item, symbols in name order (NVDA before ORCL), pages of 8.
    const m = await alpaca.getMultiBarsV2(["ORCL", "NVDA"], { start: "2005-12-01T00:00:00Z", end: "2005-12-31T00:00:00Z", timeframe: "1Day", limit: 200, pageLimit: 8 });
    check(m.get("NVDA") && m.get("NVDA").length >= 15, "a month of NVDA bars");
    check(m.get("ORCL") && m.get("ORCL").length === m.get("NVDA").length, "as many ORCL bars");
    return m.get("NVDA").length + " NVDA, " + m.get("ORCL").length + " ORCL";
  });
  await call("getCryptoBars", async () => {
    const m = await alpaca.getCryptoBars(["BTC/USD"], { start: "2006-01-02T00:00:00Z", timeframe: "1Min", limit: 5 });
    check(m.get("BTC/USD").length === 5, "5 BTC/USD bars");
  });
  await call("getLatestCryptoTrades", async () => {
    const m = await alpaca.getLatestCryptoTrades(["BTC/USD"]);
    check(m.get("BTC/USD").Price > 0, "a BTC/USD trade");
  });
  await call("getLatestCryptoQuotes", async () => {
    const m = await alpaca.getLatestCryptoQuotes(["BTC/USD"]);
    const q = m.get("BTC/USD");
    check(q.BidPrice > 0 && q.AskPrice > q.BidPrice, "bid below ask");
  });
  await call("getOptionChain", async () => {
    const chain = await alpaca.getOptionChain("ORCL", { type: "call" });
    check(chain.length > 0, "contracts");
    check(chain.every((s) => /C[0-9]{8}$/.test(s.Symbol) && s.Greeks && s.LatestQuote), "calls with greeks and quotes");
    return chain.length + " calls";
  });
  await call("getOptionSnapshots", async () => {
    const chain = await alpaca.getOptionChain("ORCL", { type: "put" });
    const s = await alpaca.getOptionSnapshots([chain[0].Symbol]);
    check(s.length === 1 && s[0].Symbol === chain[0].Symbol, "the one snapshot");
  });
  await call("sendRequest /options/contracts/{symbol}", async () => {
    const chain = await alpaca.getOptionChain("ORCL", { type: "call" });
    const c = await alpaca.sendRequest("/options/contracts/" + chain[0].Symbol);
    check(c.symbol === chain[0].Symbol && c.underlying_symbol === "ORCL" && isDecimal(c.strike_price), "the contract");
  });

  await call("cancelAllOrders", async () => {
    const r = await alpaca.cancelAllOrders();
    check(Array.isArray(r) && r.every((x) => x.status === 200), "207 entries of 200");
    const open = await alpaca.getOrders({ status: "open" });
    check(open.length === 0, "nothing open");
    return r.length + " canceled";
  });
  await call("closeAllPositions", async () => {
    const r = await alpaca.closeAllPositions();
    check(Array.isArray(r) && r.length > 0 && r.every((x) => x.status === 200 && x.body && x.body.side === "sell"), "a sell for each position");
    return r.length + " closed";
  });

  const width = Math.max(...results.map((r) => r[0].length));
  for (const [name, outcome, note] of results) console.log(outcome.padEnd(5) + name.padEnd(width + 2) + note);
  const failed = results.filter((r) => r[1] === "FAIL").length;
  const skipped = results.filter((r) => r[1] === "SKIP").length;
  console.log(`${results.length - failed - skipped} passed, ${failed} failed, ${skipped} skipped`);
  process.exit(failed > 0 ? 1 : 0);
}

main().catch((e) => {
  console.error("alpaca_sdk_check: " + (e && e.stack ? e.stack : e));
  process.exit(1);
});
