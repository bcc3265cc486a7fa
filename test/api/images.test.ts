// Container images end to end over HTTP with a real store: node runtimes, site image policy,
// resolved image and network flag in assignments, image-pull failures, and unbilled pull time.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildWorld, simGpus, type World } from "../helpers/fixtures.js";
import { call, startHarness, type Harness } from "../helpers/harness.js";
import { STORES } from "../helpers/stores.js";

const PYTORCH = "nvcr.io/nvidia/pytorch:24.08-py3";
const PODMAN = { executor: "podman", images: true, isolated: true } as const;
const LOCAL = { executor: "local", images: false, isolated: false } as const;

interface Assigned {
  leaseId: string;
  jobId: string;
  image?: string;
  network: boolean;
  spec: { image?: string; network?: boolean };
}

for (const factory of STORES) {
  const available = await factory.available();
  describe.skipIf(!available)(`container images over HTTP: ${factory.name}`, () => {
    let h: Harness;
    let w: World;
    const nodes: Record<string, { nodeKey: string; nodeId: string }> = {};

    const enrol = async (siteId: string, name: string, runtime: object) => {
      const tok = await call(h.app, w.operatorKey, "POST", `/v1/sites/${siteId}/enrolment-tokens`);
      const e = await call(h.app, null, "POST", "/v1/agent/enrol", {
        token: tok.json.token,
        name,
        gpus: simGpus("H100", 8),
        runtime,
      });
      expect(e.status).toBe(201);
      return { nodeKey: e.json.key as string, nodeId: e.json.nodeId as string };
    };
    const beat = async (nodeKey: string, workloads: unknown[] = [], runtime?: object) =>
      (
        await call(h.app, nodeKey, "POST", "/v1/agent/heartbeat", {
          gpus: simGpus("H100", 8),
          health: { healthy: true, reasons: [] },
          workloads,
          ...(runtime ? { runtime } : {}),
        })
      ).json as { assignments: Assigned[]; stops: { leaseId: string }[] };
    const submit = async (body: object) => {
      const r = await call(h.app, w.tenantKey, "POST", "/v1/jobs", {
        gpus: 1,
        gpuModels: ["H100"],
        command: ["python", "train.py"],
        ...body,
      });
      expect(r.status).toBe(201);
      return r.json.id as string;
    };
    const job = async (id: string) => (await call(h.app, w.tenantKey, "GET", `/v1/jobs/${id}`)).json;
    /** Runs one cycle and returns the assignment the node gets for the job. */
    const assigned = async (node: string, jobId: string): Promise<Assigned | undefined> => {
      await h.loop.tick();
      return (await beat(nodes[node]!.nodeKey)).assignments.find((a) => a.jobId === jobId);
    };
    /** Ends a job's lease as succeeded so its GPUs free up for the next case. */
    const finish = async (node: string, a: Assigned) => {
      const t = h.clock.now();
      await beat(nodes[node]!.nodeKey, [
        { leaseId: a.leaseId, phase: "succeeded", exitCode: 0, startedAt: t, endedAt: t },
      ]);
    };

    beforeAll(async () => {
      h = await startHarness(factory);
      w = await buildWorld(h.app, h.adminKey);
      // ES: container nodes, an allowlist, a default image, network allowed.
      const es = await call(h.app, w.operatorKey, "PATCH", `/v1/sites/${w.sites.es}`, {
        defaultImage: "ubuntu:22.04",
        allowImages: ["docker.io/library/*", "ghcr.io/acme/*"],
        denyImages: ["*:latest"],
        allowNetwork: true,
      });
      expect(es.status).toBe(200);
      // FI: container nodes, no policy, no network. PY: host-process nodes only.
      nodes.es = await enrol(w.sites.es, "es-pod", PODMAN);
      nodes.fi = await enrol(w.sites.fi, "fi-pod", PODMAN);
      nodes.py = await enrol(w.sites.py, "py-host", LOCAL);
      for (const n of Object.values(nodes)) await beat(n.nodeKey);
    });
    afterAll(async () => h?.close());

    it("stores the site's image policy and shows it back", async () => {
      const s = (await call(h.app, w.operatorKey, "GET", `/v1/sites/${w.sites.es}`)).json;
      expect(s).toMatchObject({
        defaultImage: "ubuntu:22.04",
        allowImages: ["docker.io/library/*", "ghcr.io/acme/*"],
        denyImages: ["*:latest"],
        allowNetwork: true,
      });
      const fi = (await call(h.app, w.operatorKey, "GET", `/v1/sites/${w.sites.fi}`)).json;
      expect(fi).toMatchObject({ defaultImage: null, allowImages: [], denyImages: [], allowNetwork: false });
    });

    it("stores each node's advertised runtime and rewrites it only when it changes", async () => {
      const get = async (id: string) => (await call(h.app, w.operatorKey, "GET", `/v1/nodes/${id}`)).json;
      expect(await get(nodes.es!.nodeId)).toMatchObject({ executor: "podman", runtime: PODMAN });
      expect(await get(nodes.py!.nodeId)).toMatchObject({ executor: "local", runtime: LOCAL });
      await beat(nodes.py!.nodeKey, [], { executor: "local", images: false, isolated: true });
      expect((await get(nodes.py!.nodeId)).runtime).toEqual({
        executor: "local",
        images: false,
        isolated: true,
      });
      await beat(nodes.py!.nodeKey, [], LOCAL);
      expect((await get(nodes.py!.nodeId)).runtime).toEqual(LOCAL);
      // A heartbeat without the field (an older agent) keeps what was advertised.
      await beat(nodes.py!.nodeKey);
      expect((await get(nodes.py!.nodeId)).runtime).toEqual(LOCAL);
    });

    it("refuses a malformed image reference or policy with a 400 naming it", async () => {
      const bad = await call(h.app, w.tenantKey, "POST", "/v1/jobs", {
        gpus: 1,
        gpuModels: ["H100"],
        command: ["x"],
        image: "NVCR.io/Nvidia/PyTorch:24.08 py3",
      });
      expect(bad.status).toBe(400);
      expect(JSON.stringify(bad.json)).toContain(
        'image \\"NVCR.io/Nvidia/PyTorch:24.08 py3\\" is not a valid',
      );
      const pat = await call(h.app, w.operatorKey, "PATCH", `/v1/sites/${w.sites.fi}`, {
        denyImages: ["docker.io/$(evil)"],
      });
      expect(pat.status).toBe(400);
      expect(JSON.stringify(pat.json)).toContain("docker.io/$(evil)");
      const own = await call(h.app, w.operatorKey, "PATCH", `/v1/sites/${w.sites.es}`, {
        defaultImage: "nvcr.io/nvidia/cuda:12.4",
      });
      expect(own.status).toBe(400);
      expect(own.json.detail).toMatch(
        /default image nvcr.io\/nvidia\/cuda:12.4 is refused by this site's own image policy/,
      );
      // Nothing half-written: the default stays.
      expect((await call(h.app, w.operatorKey, "GET", `/v1/sites/${w.sites.es}`)).json.defaultImage).toBe(
        "ubuntu:22.04",
      );
    });

    it("a job whose image the site refuses waits there with the reason", async () => {
      const id = await submit({ image: PYTORCH, countries: ["ES"] });
      expect(await assigned("es", id)).toBeUndefined();
      const j = await job(id);
      expect(j.state).toBe("pending");
      expect(j.reasons).toEqual([
        `country not in ES (2 sites)`,
        `image ${PYTORCH} not allowed at site (1 site)`,
      ]);
      await call(h.app, w.tenantKey, "POST", `/v1/jobs/${id}/cancel`);
    });

    it("an image job never goes to a host-process node, and says why it waits", async () => {
      const id = await submit({ image: "ubuntu:24.04", countries: ["PY"] });
      expect(await assigned("py", id)).toBeUndefined();
      expect((await job(id)).reasons).toEqual([
        "country not in PY (2 sites)",
        "no node runs container images (1 site)",
      ]);
      await call(h.app, w.tenantKey, "POST", `/v1/jobs/${id}/cancel`);
    });

    it("an allowed image on an images-capable node: the assignment carries it and the network flag", async () => {
      const id = await submit({ image: "ghcr.io/acme/train:1.2", network: true, countries: ["ES"] });
      const a = await assigned("es", id);
      expect(a).toMatchObject({ image: "ghcr.io/acme/train:1.2", network: true });
      expect(a!.spec).toMatchObject({ image: "ghcr.io/acme/train:1.2", network: true });
      expect((await job(id)).spec).toMatchObject({ image: "ghcr.io/acme/train:1.2", network: true });
      await finish("es", a!);
    });

    it("the site's default image applies when the job names none; network only when asked", async () => {
      const id = await submit({ countries: ["ES"] });
      const a = await assigned("es", id);
      expect(a).toMatchObject({ image: "ubuntu:22.04", network: false });
      expect(a!.spec.image).toBeUndefined();
      await finish("es", a!);
    });

    it("a job that asks for network gets none where the site does not allow it", async () => {
      const id = await submit({ image: PYTORCH, network: true, countries: ["FI"] });
      const a = await assigned("fi", id);
      expect(a).toMatchObject({ image: PYTORCH, network: false });
      await finish("fi", a!);
    });

    it("a job with no image at a site with no default runs on a host-process node with no image", async () => {
      const id = await submit({ countries: ["PY"] });
      const a = await assigned("py", id);
      expect(a).toMatchObject({ network: false });
      expect(a!.image).toBeUndefined();
      await finish("py", a!);
    });

    it("an image pull failure ends the job failed, naming the image and the registry's answer, and costs 0", async () => {
      const id = await submit({ image: "ghcr.io/acme/missing:9", countries: ["ES"] });
      const a = (await assigned("es", id))!;
      const t0 = h.clock.now();
      // Pulling: the agent says "starting"; that is not billed and the job is not running yet.
      h.clock.advance(5_000);
      await beat(nodes.es!.nodeKey, [{ leaseId: a.leaseId, phase: "starting" }]);
      expect((await job(id)).state).toBe("scheduled");
      // Usage the agent metered while pulling.
      const usage = await call(h.app, nodes.es!.nodeKey, "POST", "/v1/agent/usage", {
        records: [
          {
            nodeId: nodes.es!.nodeId,
            seq: 1,
            leaseId: a.leaseId,
            fromMs: t0,
            toMs: t0 + 40_000,
            gpuMs: 40_000,
            energyMilliWh: 7_000,
            energySource: "modelled",
          },
        ],
      });
      expect(usage.status).toBe(200);
      h.clock.advance(35_000);
      const answer =
        "initializing source docker://ghcr.io/acme/missing:9: reading manifest 9 in ghcr.io/acme/missing: manifest unknown";
      // Even a start time sent with a pull failure does not start billing: the workload never ran.
      await beat(nodes.es!.nodeKey, [
        {
          leaseId: a.leaseId,
          phase: "failed",
          cause: "image-pull",
          reason: answer,
          startedAt: t0 + 1_000,
          endedAt: h.clock.now(),
        },
      ]);
      const j = await job(id);
      expect(j.state).toBe("failed");
      expect(j.stateReason).toBe(
        `image ghcr.io/acme/missing:9 could not be pulled on node ${nodes.es!.nodeId}: ${answer}`,
      );
      expect(j.usage.costMinor).toBe(0);
      expect(j.usage.gpuSeconds).toBe(0);
      // Not requeued: the next cycle leaves it failed and assigns nothing.
      await h.loop.tick();
      expect((await job(id)).state).toBe("failed");
      expect((await beat(nodes.es!.nodeKey)).assignments).toEqual([]);
    });

    it("billing starts at the container start (running report), not at assignment", async () => {
      const id = await submit({ image: "ubuntu:24.04", countries: ["ES"] });
      const a = (await assigned("es", id))!;
      const t0 = h.clock.now();
      h.clock.advance(60_000); // a minute of pulling
      const started = h.clock.now();
      await beat(nodes.es!.nodeKey, [{ leaseId: a.leaseId, phase: "running", startedAt: started }]);
      expect((await job(id)).leases[0].startedAt).toBe(started);
      // Usage is reported after the fact (the server refuses intervals in its future).
      h.clock.advance(90_000);
      await call(h.app, nodes.es!.nodeKey, "POST", "/v1/agent/usage", {
        records: [
          {
            nodeId: nodes.es!.nodeId,
            seq: 2,
            leaseId: a.leaseId,
            fromMs: t0,
            toMs: started,
            gpuMs: 60_000,
            energyMilliWh: 10_000,
            energySource: "modelled",
          },
          {
            nodeId: nodes.es!.nodeId,
            seq: 3,
            leaseId: a.leaseId,
            fromMs: started,
            toMs: started + 90_000,
            gpuMs: 90_000,
            energyMilliWh: 15_000,
            energySource: "modelled",
          },
        ],
      });
      await beat(nodes.es!.nodeKey, [
        { leaseId: a.leaseId, phase: "succeeded", exitCode: 0, startedAt: started, endedAt: h.clock.now() },
      ]);
      const j = await job(id);
      expect(j.state).toBe("succeeded");
      // Only the 90 s after the container start: 90 GPU-s at 240 cents/GPU-h = 6 cents.
      expect(j.usage.gpuSeconds).toBe(90);
      expect(j.usage.costMinor).toBe(6);
    });
  });
}
