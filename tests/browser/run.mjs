// Browser tests: the booking page in Debian's Chromium (/usr/bin/chromium), driven by
// playwright-core, against real memcached + surge-origin + surge-edge processes on free loopback
// ports. Run by ctest (test "browser.booking"); SURGE_BUILD names the build directory (binaries
// and the built site in html/). Screenshots of every page go to $SURGE_BUILD/browser-artifacts/.
// Exits non-zero on the first failed check, after stopping every process it started.
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import crypto from "node:crypto";
import { chromium } from "playwright-core";

const HERE = path.dirname(new URL(import.meta.url).pathname);
const BUILD = process.env.SURGE_BUILD || path.resolve(HERE, "../../build");
const BIN = {
  origin: path.join(BUILD, "origin/surge-origin"),
  surgectl: path.join(BUILD, "origin/surgectl"),
  edge: path.join(BUILD, "edge/surge-edge"),
};
const SITE = path.join(BUILD, "html");
const ART = path.join(BUILD, "browser-artifacts");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const WORK = fs.mkdtempSync(path.join(os.tmpdir(), "surge-browser-"));
fs.chmodSync(WORK, 0o755);
fs.rmSync(ART, { recursive: true, force: true });
fs.mkdirSync(ART, { recursive: true });

const children = [];
let failures = 0;
function check(ok, what) {
  if (ok) {
    console.log("  ok   " + what);
  } else {
    failures++;
    console.log("  FAIL " + what);
  }
  return ok;
}

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitPort(port, ms = 20000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const ok = await new Promise((resolve) => {
      const c = net.connect(port, "127.0.0.1", () => {
        c.end();
        resolve(true);
      });
      c.on("error", () => resolve(false));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error("nothing listens on " + port);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function start(name, cmd, args) {
  const log = fs.openSync(path.join(WORK, name + ".log"), "a");
  const child = spawn(cmd, args, { stdio: ["ignore", log, log] });
  children.push(child);
  return child;
}

function stop(child, signal = "SIGKILL") {
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.on("exit", () => resolve());
  });
}

function surgectl(...args) {
  return execFileSync(BIN.surgectl, args, {
    env: { ...process.env, SURGE_ORIGIN: `http://127.0.0.1:${ports.origin}`,
           SURGE_ADMIN_KEYS: path.join(WORK, "admin.conf") },
  }).toString();
}

// A small catalog: two 시/도, three 시/군/구, three clinics. Clinic 100002 has one seat only.
function catalog() {
  const lines = [
    "region,11,서울특별시,",
    "region,11110,종로구,11",
    "region,11140,중구,11",
    "region,26,부산광역시,",
    "region,26110,중구,26",
    "clinic,100001,종로구 보건소,서울특별시 종로구 자하문로 19,11110,37.573,126.979",
    "clinic,100002,중구 보건소,서울특별시 중구 다산로 39길 16,11140,37.563,127.008",
    "clinic,100003,부산 중구 보건소,부산광역시 중구 중구로 120,26110,35.106,129.032",
  ];
  for (const day of ["2026-12-01", "2026-12-02"]) {
    for (const time of ["09:00", "09:30", "10:00"]) {
      lines.push(`slot,100001,${day},${time},5`);
      lines.push(`slot,100003,${day},${time},5`);
    }
  }
  lines.push("slot,100002,2026-12-01,09:00,1");
  return lines.join("\n") + "\n";
}

const ports = {};
let origin;

async function startOrigin() {
  origin = start("origin", BIN.origin, [
    "--listen", `127.0.0.1:${ports.origin}`, "--db", path.join(WORK, "origin.db"),
    "--memcached", `127.0.0.1:${ports.memcached}`,
    "--snapshot-keys", path.join(WORK, "snapshot.conf"),
    "--admin-keys", path.join(WORK, "admin.conf"),
    "--catalog", path.join(WORK, "catalog.csv"),
    "--publish-coalesce-ms", "20", "--full-publish-interval", "2",
  ]);
  await waitPort(ports.origin);
}

async function setUp() {
  for (const k of ["memcached", "origin", "edge"]) ports[k] = await freePort();
  for (const f of ["snapshot", "admin", "queue"]) {
    fs.writeFileSync(path.join(WORK, f + ".conf"), `${f}-1 ${crypto.randomBytes(32).toString("hex")}\n`);
  }
  fs.writeFileSync(path.join(WORK, "catalog.csv"), catalog());
  const user = process.getuid && process.getuid() === 0 ? ["-u", "nobody"] : [];
  start("memcached", "memcached", ["-l", "127.0.0.1", "-p", String(ports.memcached), "-U", "0", ...user]);
  await waitPort(ports.memcached);
  await startOrigin();
  fs.writeFileSync(path.join(WORK, "edge.conf"), `worker_processes 2;
http {
  access_log ${WORK}/access.log combined;
  surge_memcached 127.0.0.1:${ports.memcached};
  surge_snapshot_keys ${WORK}/snapshot.conf;
  surge_refresh_interval 200ms;
  surge_waiting_room on;
  surge_queue_keys ${WORK}/queue.conf;
  surge_ops_keys ${WORK}/admin.conf;
  upstream origin { server 127.0.0.1:${ports.origin}; }
  proxy_connect_timeout 500ms;
  server {
    listen 127.0.0.1:${ports.edge};
    root ${SITE};
    location / { }
    location /assets/ { surge_immutable_hashed on; }
    location /ops/ { surge_ops; }
    location /api/v1/ { surge_snapshots; }
    location /api/v1/queue/ { surge_queue; }
    location /api/v1/bookings { proxy_pass http://origin; }
  }
}
`);
  start("edge", BIN.edge, ["-c", path.join(WORK, "edge.conf")]);
  await waitPort(ports.edge);
  // Until origin's first publish is in the edge's L1.
  const deadline = Date.now() + 10000;
  while (Date.now() < deadline) {
    const r = await fetch(`http://127.0.0.1:${ports.edge}/api/v1/regions`).catch(() => null);
    if (r && r.status === 200) return;
    await sleep(100);
  }
  throw new Error("the edge never served /api/v1/regions");
}

const base = () => `http://127.0.0.1:${ports.edge}`;
let shot = 0;
async function screenshot(page, name) {
  shot++;
  await page.screenshot({ path: path.join(ART, `${String(shot).padStart(2, "0")}-${name}.png`), fullPage: true });
}

const id = (t) => `[data-testid="${t}"]`;

// Region -> 시/군/구 -> clinic -> date -> time -> person id, ending on the confirm step.
async function chooseSlot(page, { sido, sigungu, clinic, date, time, person }, label) {
  await page.goto(base() + "/");
  await page.locator(id(`sido-${sido}`)).click();
  await page.locator(id(`sigungu-${sigungu}`)).click();
  await page.locator(id("step-clinics")).waitFor({ state: "visible" });
  if (label) await screenshot(page, label + "-clinics");
  await page.locator(id(`clinic-${clinic}`)).click();
  await page.locator(id(`date-${date}`)).click();
  if (label) await screenshot(page, label + "-times");
  await page.locator(id(`time-${time}`)).click();
  await page.locator(id("person-id")).fill(person);
  await page.locator(id("step-confirm")).waitFor({ state: "visible" });
  if (label) await screenshot(page, label + "-confirm");
}

async function errorCode(page, ms = 10000) {
  const e = page.locator(id("error"));
  await e.waitFor({ state: "visible", timeout: ms });
  return e.getAttribute("data-code");
}

async function bookByApi(person, clinic, date, time) {
  return fetch(`http://127.0.0.1:${ports.origin}/api/v1/bookings`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "Idempotency-Key": "api-" + person },
    body: JSON.stringify({ clinic_id: clinic, date, time, person_id: person }),
  });
}

async function main() {
  await setUp();
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const newPage = async () => (await browser.newContext({ locale: "ko-KR" })).newPage();
  try {
    console.log("first visit");
    {
      const page = await newPage();
      const requests = [];
      let bytes = 0;
      page.on("requestfinished", async (req) => {
        requests.push(new URL(req.url()).pathname);
        const sizes = await req.sizes().catch(() => null);
        if (sizes) bytes += sizes.responseBodySize + sizes.responseHeadersSize;
      });
      await page.goto(base() + "/", { waitUntil: "networkidle" });
      await page.locator(id("sido-11")).waitFor({ state: "visible" });
      await screenshot(page, "first-visit-regions");
      check(await page.locator(id("as-of")).isVisible(), "the region list shows its 'as of' time");
      check(bytes <= 100 * 1024, `a first visit loads ${bytes} bytes (<= 102,400, compressed)`);
      check(requests.every((p) => !p.startsWith("/api/v1/bookings") && !p.startsWith("/api/v1/queue")),
            "the first visit calls only the edge's static files and snapshots: " + requests.join(" "));
      check(requests.includes("/api/v1/regions"), "the regions come from the snapshot");
      fs.writeFileSync(path.join(ART, "first-visit.txt"), `bytes ${bytes}\n${requests.join("\n")}\n`);
      await page.locator(id("lang")).click();
      await screenshot(page, "first-visit-english");
      await page.context().close();
    }

    console.log("a full booking, then cancel");
    {
      const page = await newPage();
      await chooseSlot(page, { sido: "11", sigungu: "11110", clinic: 100001, date: "2026-12-01",
                               time: "09:00", person: "browser-full" }, "booking");
      await page.locator(id("confirm")).click();
      await page.locator(id("step-done")).waitFor({ state: "visible", timeout: 15000 });
      const bookingId = (await page.locator(id("booking-id")).textContent()).trim();
      check(/^[0-9a-f]{24}$/.test(bookingId), "the confirmation shows the booking id " + bookingId);
      await screenshot(page, "booking-done");
      await page.locator(id("cancel")).click();
      await page.locator(id("canceled")).waitFor({ state: "visible", timeout: 10000 });
      await screenshot(page, "booking-canceled");
      check(true, "cancel works from the confirmation");
      await page.context().close();
    }

    console.log("sold out");
    {
      const page = await newPage();
      await chooseSlot(page, { sido: "11", sigungu: "11140", clinic: 100002, date: "2026-12-01",
                               time: "09:00", person: "browser-late" });
      const r = await bookByApi("someone-faster", 100002, "2026-12-01", "09:00");
      check(r.status === 201, "someone else takes the last seat first (" + r.status + ")");
      await page.locator(id("confirm")).click();
      check((await errorCode(page)) === "slot_full", "the page says the slot is full");
      await screenshot(page, "sold-out");
      await page.context().close();
    }

    console.log("already booked");
    {
      const r = await bookByApi("browser-dup", 100003, "2026-12-02", "10:00");
      check(r.status === 201, "the person already has a booking (" + r.status + ")");
      const page = await newPage();
      await chooseSlot(page, { sido: "26", sigungu: "26110", clinic: 100003, date: "2026-12-01",
                               time: "09:30", person: "browser-dup" });
      await page.locator(id("confirm")).click();
      check((await errorCode(page)) === "person_already_booked", "the page says they already booked");
      await screenshot(page, "already-booked");
      await page.context().close();
    }

    console.log("waiting room admission");
    {
      surgectl("queue", "open");
      surgectl("queue", "pause");
      await sleep(500);  // the edge reads the queue state every 200 ms
      const page = await newPage();
      await chooseSlot(page, { sido: "11", sigungu: "11110", clinic: 100001, date: "2026-12-02",
                               time: "09:30", person: "browser-queue" });
      await page.locator(id("confirm")).click();
      await page.locator(id("step-waiting")).waitFor({ state: "visible", timeout: 10000 });
      await page.locator(id("queue-position")).waitFor({ state: "visible" });
      await screenshot(page, "waiting-room");
      check(true, "without an admitted ticket the page waits in the queue");
      surgectl("queue", "rate", "100");
      surgectl("queue", "resume");
      await page.locator(id("step-done")).waitFor({ state: "visible", timeout: 20000 });
      await screenshot(page, "waiting-room-admitted");
      check(true, "once admitted the page books on its own");
      surgectl("queue", "close");
      await sleep(500);
      await page.context().close();
    }

    console.log("origin down while booking");
    {
      const page = await newPage();
      await chooseSlot(page, { sido: "11", sigungu: "11110", clinic: 100001, date: "2026-12-01",
                               time: "10:00", person: "browser-down" });
      await stop(origin);
      await page.locator(id("confirm")).click();
      const status = page.locator(id("status"));
      await page.waitForFunction(
        (sel) => /\d/.test(document.querySelector(sel)?.textContent || ""), id("status"),
        { timeout: 10000 });
      await screenshot(page, "origin-down-retrying");
      check(true, "the page says it is busy and retries: " + (await status.textContent()).trim());
      await startOrigin();
      await page.locator(id("step-done")).waitFor({ state: "visible", timeout: 30000 });
      await screenshot(page, "origin-back-booked");
      check(true, "when origin is back the same booking goes through");
      await page.context().close();
    }

    console.log("operator dashboard");
    {
      const anonymous = await fetch(base() + "/ops/");
      check(anonymous.status === 401, "the dashboard asks for an admin key (" + anonymous.status + ")");
      const [keyId, secret] = fs.readFileSync(path.join(WORK, "admin.conf"), "utf8").trim().split(/\s+/);
      const context = await browser.newContext({ httpCredentials: { username: keyId, password: secret } });
      const page = await context.newPage();
      await page.goto(base() + "/ops/");
      // Two polls (2 s apart) make rates; then every tile holds a number.
      await page.waitForFunction(() => {
        const ids = ["ops-requests", "ops-hit-ratio", "ops-origin-inflight", "ops-queue-length", "ops-bookings"];
        return ids.every((t) => /\d/.test(document.querySelector(`[data-testid="${t}"]`)?.textContent || ""));
      }, null, { timeout: 15000 });
      await screenshot(page, "ops-dashboard");
      check(true, "the dashboard charts the edge and origin metrics");
      await context.close();
    }
  } finally {
    await browser.close();
  }
}

let code = 0;
try {
  await main();
} catch (e) {
  console.log("  FAIL " + (e && e.stack ? e.stack : e));
  failures++;
} finally {
  for (const c of children) await stop(c);
  if (failures === 0) fs.rmSync(WORK, { recursive: true, force: true });
  else console.log("logs kept in " + WORK + "; screenshots in " + ART);
  code = failures === 0 ? 0 : 1;
}
console.log(failures === 0 ? "browser tests passed" : `${failures} browser check(s) failed`);
process.exit(code);
