// Drives the dashboard of a running hydra-host in headless Chromium:
//   node dashboard_check.js URL TOKEN HOST_BIN CONFIG_DIR OUT_DIR
// The page must load with no console error, show a halt made with
// `hydra-host halt` at the host's next tick, and its Halt button must halt
// the host (seen in /api/state, which the host's engine thread writes). Two
// screenshots land in OUT_DIR for a person to look at.
"use strict";
const { chromium } = require("playwright-core");
const { execFileSync } = require("child_process");

const [url, token, hostBin, configDir, outDir] = process.argv.slice(2);
const problems = [];
const fail = (msg) => { console.log("FAIL " + msg); process.exitCode = 1; };

async function state(page) {
  return page.evaluate(async () => (await fetch("/api/state")).json());
}

async function main() {
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
  try {
    const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
    page.on("console", (m) => { if (m.type() === "error") problems.push("console: " + m.text()); });
    page.on("pageerror", (e) => problems.push("page error: " + e.message));
    await page.goto(url);
    await page.waitForSelector("#banner.ok", { timeout: 20000 });
    console.log("OK   page loaded: " + (await page.textContent("#banner")));
    await page.screenshot({ path: outDir + "/dashboard-running.png", fullPage: true });

    // A halt from the command line shows without a reload.
    const t0 = Date.now();
    execFileSync(hostBin, ["halt", "--config", configDir, "--reason", "browser check: command line"]);
    await page.waitForSelector("#banner.halted", { timeout: 20000 });
    console.log("OK   command-line halt shown after " + (Date.now() - t0) + " ms: " + (await page.textContent("#banner")));
    execFileSync(hostBin, ["resume", "--config", configDir, "--reason", "browser check"]);
    await page.waitForSelector("#banner.ok", { timeout: 20000 });
    console.log("OK   resume shown");

    // The Halt button: the page asks for the token and a reason, the host halts.
    const answers = [token, "browser check: the Halt button"];
    page.on("dialog", (d) => d.accept(answers.shift()));
    await page.click("#halt");
    await page.waitForSelector("#banner.halted", { timeout: 20000 });
    const s = await state(page);
    if (!s.halt.active || s.halt.source !== "operator" || !/dashboard/.test(s.halt.requested_by))
      fail("the Halt button did not halt the host as the operator: " + JSON.stringify(s.halt));
    else
      console.log("OK   Halt button: host halted, requested by " + s.halt.requested_by);
    await page.screenshot({ path: outDir + "/dashboard-halted.png", fullPage: true });
    console.log("OK   screenshots in " + outDir);
  } finally {
    await browser.close();
  }
  for (const p of problems) fail(p);
  if (problems.length === 0) console.log("OK   no console errors");
}

main().catch((e) => { fail(e.stack || String(e)); });
