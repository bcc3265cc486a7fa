// The console in a real browser against the real server and agents (npm run test:browser).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { apiCall, chromiumAvailable, shot, signedIn, startWorld, type World } from "./world.js";

interface JobView {
  id: string;
  state: string;
  usage: { gpuSeconds: number; costMinor: number };
  leases: { siteId: string }[];
}

const euro = (minor: number): string =>
  new Intl.NumberFormat("en-GB", { style: "currency", currency: "EUR" }).format(minor / 100);

// Without chromium the suite cannot run: under CI chromiumAvailable() throws (a failure with the
// install command); elsewhere it prints why and the suite is reported as skipped.
describe.skipIf(!chromiumAvailable())("the web console in a browser", () => {
  let w: World;
  let jobId = "";
  beforeAll(async () => {
    w = await startWorld();
  });
  afterAll(async () => w?.close());

  const waitState = async (id: string, states: string[]): Promise<JobView> => {
    let job: JobView | undefined;
    await expect
      .poll(
        async () => (job = await apiCall<JobView>(w.url, w.seed.tenantKey, "GET", `/v1/jobs/${id}`)).state,
        { timeout: 30_000, interval: 250 },
      )
      .toSatisfy((s: string) => states.includes(s));
    return job!;
  };

  it("a tenant signs in, submits a job with a price estimate, watches it run to completion with its logs, and sees its cost", async () => {
    const ctx = await w.browser.newContext({ viewport: { width: 1280, height: 800 } });
    const first = await ctx.newPage();
    await first.goto(w.url + "/");
    await first.getByLabel("API key").waitFor();
    await shot(first, "01-sign-in");
    await ctx.close();

    const page = await signedIn(w, w.seed.tenantKey);
    await page.getByRole("heading", { name: "Capacity" }).waitFor();
    await page.getByRole("cell", { name: "Alto Parana Hall" }).waitFor();
    expect(await page.locator("tbody tr").count()).toBe(4);
    await shot(page, "02-capacity");

    await page.getByRole("link", { name: "Submit a job" }).first().click();
    await page.getByLabel("Name (optional)").fill("e2e-finetune");
    await page
      .getByLabel("Command")
      .fill(
        "for i in 1 2 3 4 5 6; do echo step $i of 6 on GPUs $CUDA_VISIBLE_DEVICES; sleep 1; done; echo finished",
      );
    await page.getByLabel("H100", { exact: true }).check();
    await page.getByRole("spinbutton", { name: "GPUs", exact: true }).fill("8");
    await page.getByLabel("Max price per GPU-hour").fill("2.50");
    await page.getByLabel("Jurisdiction").selectOption("EU");
    await page.getByLabel("Runtime estimate, minutes").fill("10");
    // EU and at most 2.50: Asturias (2.40) is the cheapest eligible offer; 8 × 2.40 = 19.20 per hour, 3.20 for 10 minutes.
    const est = page.getByTestId("estimate");
    await expect.poll(() => est.textContent()).toContain("€19.20");
    expect(await est.textContent()).toContain("€3.20");
    expect(await est.textContent()).toContain("Asturias Hall");
    await page.evaluate(() => {
      (document.activeElement as HTMLElement | null)?.blur();
      window.scrollTo(0, 0);
    });
    await shot(page, "03-submit");

    await page.getByRole("button", { name: "Submit job" }).click();
    await page.waitForURL(/\/jobs\/[^/]+$/);
    jobId = new URL(page.url()).pathname.split("/").pop()!;
    await page.getByRole("heading", { name: "e2e-finetune" }).waitFor();
    const logs = page.getByTestId("logs");
    await expect
      .poll(() => logs.textContent().catch(() => ""), { timeout: 30_000, interval: 250 })
      .toContain("finished");
    expect(await logs.textContent()).toContain("step 3 of 6");
    const job = await waitState(jobId, ["succeeded"]);
    expect(job.usage.gpuSeconds).toBeGreaterThan(0);
    // The page shows the metered cost the API bills, and the history of the job's life.
    await expect
      .poll(() => page.getByTestId("job-cost").textContent(), { timeout: 15_000 })
      .toBe(euro(job.usage.costMinor));
    await expect
      .poll(() => page.locator(".stat .badge").first().textContent(), { timeout: 10_000 })
      .toBe("succeeded");
    const history = await page.getByTestId("history").textContent();
    for (const s of ["pending", "scheduled", "running", "succeeded"]) expect(history).toContain(s);
    await shot(page, "04-job");

    await page.getByRole("link", { name: "Jobs", exact: true }).click();
    await page.getByRole("link", { name: "e2e-finetune" }).waitFor();
    await shot(page, "05-jobs");
    await page.getByRole("link", { name: "Usage & billing" }).click();
    await page.getByRole("link", { name: jobId }).waitFor();
    await shot(page, "06-billing");
    await page.context().close();
  });

  it("a tenant cannot see another tenant's job, even by typing its URL", async () => {
    expect(jobId).not.toBe("");
    const page = await signedIn(w, w.otherTenantKey);
    await page.goto(`${w.url}/jobs/${jobId}`);
    await page.getByRole("heading", { name: "Job not found" }).waitFor();
    expect(await page.content()).not.toContain("e2e-finetune");
    expect(await page.getByTestId("logs").count()).toBe(0);
    await shot(page, "07-job-not-found");
    await page.getByRole("link", { name: "Jobs", exact: true }).click();
    await page.getByText("No jobs yet.").waitFor();
    await page.context().close();
  });

  it("a pending job shows the scheduler's reasons and can be cancelled", async () => {
    const page = await signedIn(w, w.seed.tenantKey);
    // 16 EU H100s on one node do not exist: it waits, and says why.
    const job = await apiCall<{ id: string }>(w.url, w.seed.tenantKey, "POST", "/v1/jobs", {
      name: "too-big",
      gpus: 16,
      gpusPerNode: 16,
      gpuModels: ["H100"],
      jurisdiction: "EU",
      command: ["true"],
    });
    await page.goto(`${w.url}/jobs/${job.id}`);
    const reasons = page.getByTestId("reasons");
    await expect.poll(() => reasons.textContent().catch(() => ""), { timeout: 15_000 }).not.toBe("");
    await shot(page, "08-job-pending");
    await page.getByRole("button", { name: "Cancel job" }).click();
    await expect
      .poll(() => page.locator(".stat .badge").first().textContent(), { timeout: 10_000 })
      .toBe("cancelled");
    expect((await waitState(job.id, ["cancelled"])).state).toBe("cancelled");
    await page.context().close();
  });

  it("choosing another site while the first site's indicators are still loading shows the chosen site's", async () => {
    // The race behind the flaky "EU indicators" fill: the page loads the first site's figures,
    // the user picks another site before they arrive, and the new site's request must still go out.
    const page = await signedIn(w, w.seed.operatorKey);
    let release = (): void => undefined;
    const held = new Promise<void>((r) => (release = r));
    let firstSeen = (): void => undefined;
    const first = new Promise<void>((r) => (firstSeen = r));
    let n = 0;
    await page.route("**/v1/indicators?*", async (route) => {
      if (n++ === 0) {
        firstSeen();
        await held;
      }
      await route.continue();
    });
    await page.getByRole("link", { name: "EU indicators" }).click();
    await first;
    // The demo's first site is Asturias; Boden's request is asked while Asturias's is held.
    await page.getByLabel("Site").selectOption({ label: "Boden Hall" });
    release();
    await page.getByLabel("Facility energy E_DC, kWh").waitFor({ timeout: 10_000 });
    expect(n).toBeGreaterThanOrEqual(2);
    await page.context().close();
  });

  it("an operator sees the node's GPUs busy while a job runs, and its site's utilisation and power", async () => {
    const job = await apiCall<{ id: string }>(w.url, w.seed.tenantKey, "POST", "/v1/jobs", {
      name: "busy-4",
      gpus: 4,
      gpuModels: ["H100"],
      countries: ["SE"],
      shell: true,
      command: ["sleep 8"],
    });
    const page = await signedIn(w, w.seed.operatorKey);
    await page.getByRole("heading", { name: "Sites & nodes" }).waitFor();
    const busy = page.locator('[data-testid=gpu][data-busy="true"]');
    await expect.poll(() => busy.count(), { timeout: 20_000, interval: 250 }).toBe(4);
    const running = await apiCall<JobView>(w.url, w.seed.tenantKey, "GET", `/v1/jobs/${job.id}`);
    expect(["scheduled", "running"]).toContain(running.state);
    await shot(page, "09-operator-sites");

    const siteId = running.leases[0]!.siteId;
    await page.goto(`${w.url}/operator/sites/${siteId}`);
    await page.getByLabel("Time window").selectOption({ label: "Last 15 minutes" });
    await page.getByText("Buckets of 10 s").waitFor();
    await page
      .locator("[data-testid=chart-utilisation][data-drawn=true] svg path")
      .first()
      .waitFor({ state: "attached" });
    await page
      .locator("[data-testid=chart-power][data-drawn=true] svg path")
      .first()
      .waitFor({ state: "attached" });
    await shot(page, "10-site-utilisation");

    await page.getByRole("link", { name: "Prices" }).click();
    await page.getByRole("heading", { name: "Boden Hall (SE)" }).waitFor();
    await shot(page, "11-prices");
    await page.getByRole("link", { name: "Curtailment" }).click();
    // Declare tomorrow's window at Alto Parana (5,000 kW contracted) through the form.
    const local = (ms: number): string =>
      new Date(ms - new Date(ms).getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
    const tomorrow = Math.floor(Date.now() / 3_600_000) * 3_600_000 + 24 * 3_600_000;
    await page.getByLabel("Site").selectOption({ label: "Alto Parana Hall (5,000 kW)" });
    await page.getByLabel("Starts").fill(local(tomorrow));
    await page.getByLabel("Ends").fill(local(tomorrow + 2 * 3_600_000));
    await page.getByLabel("Max draw, kW").fill("3500");
    await page.getByLabel("Reason").fill("grid operator demand response");
    await page.getByRole("button", { name: "Declare" }).click();
    await page.getByRole("cell", { name: "grid operator demand response" }).waitFor();
    await shot(page, "12-curtailment");

    await page.getByRole("link", { name: "EU indicators" }).click();
    await page.getByLabel("Site").selectOption({ label: "Boden Hall" });
    await page.getByLabel("Facility energy E_DC, kWh").fill("540000");
    await page.getByLabel("IT energy E_IT, kWh (blank: metered)").fill("500000");
    await page.getByLabel("Renewable E_RES-TOT, kWh").fill("486000");
    await page.getByLabel("Reused E_REUSE, kWh").fill("54000");
    await page.getByLabel("Water in W_IN, m³").fill("900");
    await page.getByLabel("Installed IT power, kW").fill("1200");
    await page.getByRole("button", { name: "Save readings" }).click();
    // PUE = 540,000 / 500,000 = 1.08; REF = 486,000 / 540,000 = 0.9.
    await page.locator(".stat", { hasText: "PUE" }).getByText("1.08").waitFor();
    expect(await page.locator(".stat", { hasText: "REF" }).textContent()).toContain("0.9");
    await shot(page, "13-eu-indicators");
    await page.context().close();
  });

  it("an operator sees a node's GPU inventory change pending approval and approves it", async () => {
    const k = w.seed.operatorKey;
    const site = (await apiCall<{ id: string }[]>(w.url, k, "GET", "/v1/sites"))[0]!;
    const tok = await apiCall<{ token: string }>(w.url, k, "POST", `/v1/sites/${site.id}/enrolment-tokens`);
    const gpu = (model: string, i: number, memoryMb: number) => ({
      index: i,
      uuid: `GPU-hand-${model}-${i}`,
      model,
      name: `NVIDIA ${model}`,
      memoryMb,
      powerLimitW: 350,
      healthy: true,
    });
    const l40s = [0, 1, 2, 3].map((i) => gpu("L40S", i, 46_068));
    const node = await apiCall<{ nodeId: string; key: string }>(w.url, k, "POST", "/v1/agent/enrol", {
      token: tok.token,
      name: "hand-driven",
      gpus: l40s,
      executor: "local",
    });
    await apiCall(w.url, node.key, "POST", "/v1/agent/heartbeat", {
      gpus: [0, 1, 2, 3, 4, 5, 6, 7].map((i) => gpu("H200", i, 143_771)),
      health: { healthy: true, reasons: [] },
      workloads: [],
    });
    const page = await signedIn(w, k);
    const pending = page.getByTestId("inventory-pending");
    await pending.waitFor({ timeout: 10_000 });
    expect(await pending.textContent()).toContain(
      "reports 8 x H200 (143771 MiB); approved 4 x L40S (46068 MiB)",
    );
    await shot(page, "20-operator-inventory-pending");
    await page.getByRole("button", { name: "Approve the new GPU inventory of hand-driven" }).click();
    await pending.waitFor({ state: "detached", timeout: 10_000 });
    const inv = await apiCall<{ pending: boolean }>(w.url, k, "GET", `/v1/nodes/${node.nodeId}/inventory`);
    expect(inv.pending).toBe(false);
    await apiCall(w.url, k, "DELETE", `/v1/nodes/${node.nodeId}`);
    await page.context().close();
  });

  it("an admin approves and rejects proposed GPU models, and the operator sees their state", async () => {
    const k = w.seed.operatorKey;
    const propose = (id: string, name: string, memoryGb: number, powerW: number) =>
      apiCall(w.url, k, "POST", "/v1/gpu-models", { id, vendor: "nvidia", name, memoryGb, powerW });
    await propose("RTX3080TI", "NVIDIA GeForce RTX 3080 Ti 12GB", 12, 350);
    await propose("RTX4080", "NVIDIA GeForce RTX 4080 16GB", 16, 320);
    const op = await signedIn(w, k);
    await op.getByRole("link", { name: "GPU models" }).click();
    const row = (p: Page, id: string) => p.getByTestId(`gpu-model-${id}`);
    await row(op, "RTX4080").getByText("proposed").waitFor();
    expect(await op.getByRole("button", { name: "Approve RTX4080" }).count()).toBe(0);

    const admin = await signedIn(w, w.seed.adminKey);
    await admin.getByRole("link", { name: "GPU models" }).click();
    await admin.getByRole("button", { name: "Approve RTX4080" }).click();
    await row(admin, "RTX4080").getByText("approved").waitFor();
    // A rejection needs a reason: the page says so before asking the server.
    await admin.getByRole("button", { name: "Reject RTX3080TI" }).click();
    await row(admin, "RTX3080TI").getByRole("alert").getByText("Say why").waitFor();
    await admin.getByLabel("Reason to reject RTX3080TI").fill("12 GB is below the 16 GB this cloud sells");
    await admin.getByRole("button", { name: "Reject RTX3080TI" }).click();
    await row(admin, "RTX3080TI").getByText("rejected").waitFor();
    await shot(admin, "21-admin-gpu-models");

    await op.reload();
    await row(op, "RTX4080").getByText("approved").waitFor();
    expect(await row(op, "RTX3080TI").textContent()).toContain("12 GB is below the 16 GB this cloud sells");
    const catalogue = await apiCall<{ id: string; tdpW: number }[]>(w.url, k, "GET", "/v1/gpu-models");
    expect(catalogue.find((m) => m.id === "RTX4080")?.tdpW).toBe(320);
    await op.context().close();
    await admin.context().close();
  });

  it("the planner page draws its charts", async () => {
    const page = await signedIn(w, w.seed.operatorKey);
    await page.getByRole("link", { name: "Conversion planner" }).click();
    await page.getByLabel("Start from").selectOption("hybrid");
    const answer = page.waitForResponse((r) => r.url().endsWith("/v1/plans"));
    await page.getByRole("button", { name: "Run the plan" }).click();
    const res = await answer;
    if (res.status() === 404)
      throw new Error(
        "POST /v1/plans answered 404: the planner route (plansRoutes in src/api/routes/plans.ts) is not wired into extraRoutePlugins() in src/api/plugins.ts yet, so the planner page cannot draw its charts",
      );
    expect(res.status()).toBe(200);
    for (const id of ["chart-cumulative", "chart-split", "chart-tornado", "chart-risk"]) {
      const paths = page.locator(`[data-testid=${id}][data-drawn=true] svg path`);
      await paths.first().waitFor({ state: "attached" });
      expect(await paths.count(), id).toBeGreaterThan(5);
    }
    await page.getByText("Recommendation:").waitFor();
    await shot(page, "14-planner");
    await page.evaluate(() =>
      document
        .querySelector("[data-testid=chart-cumulative]")
        ?.closest(".card")
        ?.scrollIntoView({ block: "start" }),
    );
    await shot(page, "15-planner-charts");
    await page.context().close();
  });

  it("an admin sees operators, tenants, keys and the fee", async () => {
    const page = await signedIn(w, w.seed.adminKey);
    const visit = async (link: string, text: string, name: string): Promise<void> => {
      await page.getByRole("link", { name: link, exact: true }).click();
      await page.getByText(text).first().waitFor();
      await shot(page, name);
    };
    await visit("Operators", "Hashfield Energy (demo)", "16-admin-operators");
    await visit("Tenants", "Beta Labs", "17-admin-tenants");
    await visit("API keys", "bootstrap admin", "18-admin-keys");
    await visit("Platform fee", "Operator keeps", "19-admin-fee");
    await page.context().close();
  });

  it("works at phone width without sideways scrolling", async () => {
    const page: Page = await signedIn(w, w.seed.tenantKey, { width: 390, height: 844 });
    if (!jobId)
      jobId = (
        await apiCall<{ id: string }>(w.url, w.seed.tenantKey, "POST", "/v1/jobs", {
          gpus: 1,
          gpuModels: ["H100"],
          shell: true,
          command: ["echo hi"],
        })
      ).id;
    await page.goto(`${w.url}/jobs/${jobId}`);
    await page.getByTestId("logs").waitFor();
    const { overflow, wide } = await page.evaluate(() => ({
      overflow: document.documentElement.scrollWidth - window.innerWidth,
      // The widest offenders, for the failure message.
      wide: [...document.querySelectorAll("body *")]
        .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
        .slice(0, 8)
        .map(
          (e) => `${e.tagName.toLowerCase()}.${e.className} ${Math.round(e.getBoundingClientRect().width)}px`,
        ),
    }));
    expect(overflow, `elements wider than the phone: ${wide.join(", ")}`).toBeLessThanOrEqual(1);
    await shot(page, "20-phone-job");
    await page.context().close();
  });
});
