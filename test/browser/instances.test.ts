// An interactive instance in the console, end to end: the real server with the console, a real
// agent process with the podman executor and its relay, a busybox httpd in the demo image (no
// network), and chromium: the job page shows the instance's cost so far and per hour, and its
// "Open port 8080" link opens the page httpd serves, through the control plane. Another tenant gets
// 404 on the same URL.
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { containerName } from "../../src/agent/executors/podman-args.js";
import { enrolmentToken } from "../../src/cli/demo/federation.js";
import { podmanUnavailable, removeContainersNamed } from "../executors/podman-env.js";
import { kill, startAgentProc } from "../helpers/processes.js";
import { apiCall, chromiumAvailable, shot, signedIn, startWorld, type World } from "./world.js";

const DEMO = "localhost/zumbido/demo:latest";
const underCi = process.env.CI === "true";
const why = chromiumAvailable() ? podmanUnavailable() : "chromium is not installed";

if (why) {
  describe("an instance in the console", () => {
    it.runIf(underCi)("needs chromium, podman and the demo image under CI", () => {
      expect.fail(`cannot run the instance browser test under CI: ${why}`);
    });
    it.skipIf(underCi)(`skipped: ${why}`, () => undefined);
  });
} else {
  describe("an instance in the console", () => {
    let w: World;
    let dir: string;
    let agent: ChildProcess;
    let jobId = "";
    const page = "hello from busybox in an instance";

    beforeAll(async () => {
      w = await startWorld();
      dir = mkdtempSync(join(tmpdir(), "zumbido-instance-browser-"));
      // A node of L40S GPUs (no demo node has them) at the first demo site, on podman with the relay.
      const site = w.seed.sites[0]!.id;
      await apiCall(w.url, w.seed.operatorKey, "PUT", `/v1/sites/${site}/prices/L40S`, {
        onDemandMinorPerGpuHour: 200,
        interruptibleMinorPerGpuHour: 100,
      });
      const token = await enrolmentToken(w.url, w.seed.operatorKey, site);
      agent = startAgentProc(w.url, join(dir, "agent"), "L40Sx1", token, "instance-node", [
        "--executor",
        "podman",
      ]);
    }, 120_000);
    afterAll(async () => {
      if (agent) await kill(agent);
      // Only this test's container (others' suites may run containers on this machine).
      if (jobId) {
        const j = await apiCall<{ leases: { id: string }[] }>(
          w.url,
          w.seed.tenantKey,
          "GET",
          `/v1/jobs/${jobId}`,
        );
        for (const l of j.leases) removeContainersNamed(containerName(l.id).slice("zumbido-".length));
      }
      await w?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it("a tenant opens a running instance's port from its job page and sees the page it serves", async () => {
      // httpd serves under the port's prefix (the path reaches the app whole).
      const job = await apiCall<{ id: string }>(w.url, w.seed.tenantKey, "POST", "/v1/jobs", {
        name: "busybox-httpd",
        gpus: 1,
        gpuModels: ["L40S"],
        kind: "instance",
        image: DEMO,
        ports: [8080],
        command: [
          "sh",
          "-c",
          `d=/tmp/www/v1/jobs/$ZUMBIDO_JOB_ID/ports/8080 && mkdir -p $d && echo '<h1>${page}</h1>' > $d/index.html && exec httpd -f -p 8080 -h /tmp/www`,
        ],
      });
      jobId = job.id;
      // Running, and its node's relay is up (the URL answers the tenant's key).
      await expect
        .poll(
          async () =>
            (
              await fetch(`${w.url}/v1/jobs/${jobId}/ports/8080/`, {
                headers: { authorization: `Bearer ${w.seed.tenantKey}` },
              })
            ).status,
          { timeout: 120_000, interval: 500 },
        )
        .toBe(200);

      const tab = await signedIn(w, w.seed.tenantKey);
      await tab.goto(`${w.url}/jobs/${jobId}`);
      await tab.getByRole("heading", { name: "busybox-httpd" }).waitFor();
      // One L40S at 2.00 an hour.
      await expect.poll(() => tab.getByTestId("instance-rate").textContent()).toBe("€2.00");
      expect(await tab.getByTestId("instance-cost").textContent()).toMatch(/^€\d+\.\d\d$/);
      const link = tab.getByTestId("open-port-8080");
      await expect.poll(() => link.getAttribute("aria-disabled")).toBe("false");
      await shot(tab, "15-instance");
      const [opened] = await Promise.all([tab.context().waitForEvent("page"), link.click()]);
      await opened.waitForLoadState();
      expect(new URL(opened.url()).pathname).toBe(`/v1/jobs/${jobId}/ports/8080/`);
      expect(await opened.locator("h1").textContent()).toBe(page);
      // The same tab, without the console's session cookie, is not let in.
      const bare = await tab.context().browser()!.newContext();
      const res = await (await bare.newPage()).goto(`${w.url}/v1/jobs/${jobId}/ports/8080/`);
      expect(res?.status()).toBe(401);
      await bare.close();
    }, 180_000);

    it("another tenant gets 404 on the instance's URL and its port session", async () => {
      const headers = { authorization: `Bearer ${w.otherTenantKey}` };
      expect((await fetch(`${w.url}/v1/jobs/${jobId}/ports/8080/`, { headers })).status).toBe(404);
      const s = await fetch(`${w.url}/v1/jobs/${jobId}/ports/8080/session`, { method: "POST", headers });
      expect(s.status).toBe(404);
      expect(s.headers.get("set-cookie")).toBeNull();
    });

    it("a cancelled instance ends and its URL no longer answers with the page", async () => {
      await apiCall(w.url, w.seed.tenantKey, "POST", `/v1/jobs/${jobId}/cancel`);
      await expect
        .poll(
          async () =>
            (await apiCall<{ state: string }>(w.url, w.seed.tenantKey, "GET", `/v1/jobs/${jobId}`)).state,
          { timeout: 60_000, interval: 500 },
        )
        .toBe("cancelled");
      const r = await fetch(`${w.url}/v1/jobs/${jobId}/ports/8080/`, {
        headers: { authorization: `Bearer ${w.seed.tenantKey}` },
      });
      expect(r.status).toBe(404);
    }, 90_000);
  });
}
