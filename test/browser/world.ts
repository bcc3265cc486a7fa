// The end-to-end world: the real server (SQLite in a temp folder), the console, the demo federation
// with its four in-process agents on simulated GPUs, and Debian's chromium driven by playwright-core.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { extraRoutePlugins } from "../../src/api/plugins.js";
import { consoleDataRoutes } from "../../src/api/routes/console-data.js";
import { CONSOLE_DIR, consoleRoutes } from "../../src/api/routes/console.js";
import type { RoutePlugin } from "../../src/api/server.js";
import { seedDemo, type DemoSeed } from "../../src/cli/demo/federation.js";
import { startDemoAgents } from "../../src/cli/demo/run-agents.js";
import { parseServerConfig } from "../../src/config.js";
import { startServer, type ServerHandle } from "../../src/server.js";

export const CHROMIUM = "/usr/bin/chromium";
const INSTALL = "apt-get update && apt-get install -y chromium";

/** True when chromium is installed; under CI a missing one throws with the install command, elsewhere it says so. */
export function chromiumAvailable(): boolean {
  if (existsSync(CHROMIUM)) return true;
  const msg = `the browser suite needs Debian's chromium at ${CHROMIUM}; install it with: ${INSTALL}`;
  if (process.env.CI === "true") throw new Error(msg);
  console.warn(`[not run] ${msg}`);
  return false;
}

/** A running world for the browser tests. */
export interface World {
  url: string;
  seed: DemoSeed;
  /** A second tenant's key (Beta Labs), for isolation checks. */
  otherTenantKey: string;
  browser: Browser;
  server: ServerHandle;
  close(): Promise<void>;
}

/** Adds a route plugin unless the server's own plugins already register `route` (the lead wires them in plugins.ts). */
function unlessPresent(method: "GET" | "POST", url: string, plugin: RoutePlugin): RoutePlugin {
  return async (app, s) => {
    if (!app.hasRoute({ method, url })) await plugin(app, s);
  };
}

/** Starts server, agents and browser. */
export async function startWorld(): Promise<World> {
  if (!existsSync(join(CONSOLE_DIR, "index.html")))
    throw new Error(
      `the console is not built (${CONSOLE_DIR}/index.html is missing): run \`npm run build:web\`, or run the suite with \`npm run test:browser\``,
    );
  const dir = mkdtempSync(join(tmpdir(), "zumbido-e2e-"));
  mkdirSync(dir, { recursive: true });
  const config = parseServerConfig(
    {},
    {
      host: "127.0.0.1",
      port: 0,
      store: `sqlite:${join(dir, "zumbido.db")}`,
      dataDir: dir,
      logLevel: "silent",
      scheduleIntervalMs: 200,
      demo: false,
    },
  );
  const plugins: RoutePlugin[] = [
    ...extraRoutePlugins(),
    unlessPresent("GET", "/v1/operator/summary", consoleDataRoutes),
    unlessPresent("GET", "/", consoleRoutes),
  ];
  const server = await startServer(config, { plugins });
  const seed = await seedDemo(server.url, server.bootstrapAdminKey!);
  const agents = await startDemoAgents(server.url, seed, dir, { now: () => Date.now() }, () => undefined);
  const other = await apiCall<{ key: string }>(server.url, seed.adminKey, "POST", "/v1/tenants", {
    name: "Beta Labs",
    country: "DE",
    creditLimitMinor: 100_000,
  });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
  return {
    url: server.url,
    seed,
    otherTenantKey: other.key,
    browser,
    server,
    async close() {
      await browser.close().catch(() => undefined);
      for (const a of agents) await a.stop();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Calls the API directly (set-up and cross-checks). */
export async function apiCall<T>(
  url: string,
  key: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const res = await fetch(url + path, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/** A fresh page (own sessionStorage) signed in with a key. */
export async function signedIn(
  w: World,
  key: string,
  viewport = { width: 1280, height: 800 },
): Promise<Page> {
  const ctx = await w.browser.newContext({ viewport, deviceScaleFactor: 1 });
  const page = await ctx.newPage();
  page.on("dialog", (d) => void d.accept());
  await page.goto(w.url + "/");
  await page.getByLabel("API key").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("nav[aria-label=Main]").waitFor();
  return page;
}

// Test runs write their screenshots into the ignored test-results/ folder, so `npm test` leaves the
// checkout clean; `npm run docs:screenshots` points ZUMBIDO_SCREENSHOTS_DIR at docs/screenshots to
// refresh the pictures the docs show.
const SHOTS = process.env.ZUMBIDO_SCREENSHOTS_DIR
  ? resolve(process.env.ZUMBIDO_SCREENSHOTS_DIR)
  : join(import.meta.dirname, "..", "..", "test-results", "screenshots");

/** Saves a screenshot of the viewport as <name>.png (test-results/screenshots, or ZUMBIDO_SCREENSHOTS_DIR). */
export async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  // Let the last poll land and the layout settle.
  await page.waitForTimeout(150);
  await page.screenshot({ path: join(SHOTS, `${name}.png`), animations: "disabled", caret: "hide" });
}
