import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, startHarness, type Harness } from "../../../test/helpers/harness.js";
import { STORES } from "../../../test/helpers/stores.js";
import { serveConsole } from "./console.js";

describe("the console at / (built)", () => {
  let h: Harness;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "zumbido-web-"));
    mkdirSync(join(dir, "assets"));
    writeFileSync(join(dir, "index.html"), "<!doctype html><title>Zumbido</title><div id=root></div>");
    writeFileSync(join(dir, "assets", "app-abc123.js"), "console.log(1)");
    h = await startHarness(STORES[0]!, [(app) => serveConsole(app, dir)]);
  });
  afterAll(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves index.html at / and for console routes (SPA fallback)", async () => {
    for (const url of ["/", "/jobs", "/jobs/job_123?x=1", "/operator/sites/abc"]) {
      const r = await h.app.inject({ url });
      expect(r.statusCode, url).toBe(200);
      expect(r.headers["content-type"], url).toMatch(/text\/html/);
      expect(r.body).toContain("<title>Zumbido</title>");
    }
  });

  it("serves built assets with long caching, and 404s missing ones", async () => {
    const r = await h.app.inject({ url: "/assets/app-abc123.js" });
    expect(r.statusCode).toBe(200);
    expect(r.headers["content-type"]).toMatch(/javascript/);
    expect(String(r.headers["cache-control"])).toMatch(/immutable/);
    expect((await h.app.inject({ url: "/assets/gone.js" })).statusCode).toBe(404);
  });

  it("never shadows the API, docs, metrics or health", async () => {
    const unknown = await call(h.app, h.adminKey, "GET", "/v1/no-such-thing");
    expect(unknown.status).toBe(404);
    expect(unknown.headers["content-type"]).toMatch(/problem\+json/);
    expect(unknown.json.detail).toMatch(/no route/);
    expect((await call(h.app, h.adminKey, "GET", "/v1/me")).json.role).toBe("admin");
    expect((await h.app.inject({ url: "/healthz" })).json().status).toBe("ok");
    expect((await h.app.inject({ url: "/metrics" })).body).toMatch(/# HELP/);
    expect((await h.app.inject({ url: "/openapi.json" })).json().openapi).toBe("3.1.0");
    expect((await h.app.inject({ url: "/docs" })).statusCode).not.toBe(404);
    const v1 = await h.app.inject({ url: "/v1" });
    expect(v1.headers["content-type"]).toMatch(/problem\+json/);
  });

  it("does not serve files outside the build", async () => {
    const r = await h.app.inject({ url: "/..%2f..%2fetc%2fpasswd" });
    expect(r.body).not.toMatch(/root:/);
  });
});

describe("the console at / (not built)", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(STORES[0]!, [(app) => serveConsole(app, join(tmpdir(), "zumbido-no-such-build"))]);
  });
  afterAll(async () => h.close());

  it("says how to build it", async () => {
    const r = await h.app.inject({ url: "/" });
    expect(r.statusCode).toBe(200);
    expect(r.body).toContain("npm run build:web");
  });
});
