import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { DEFAULT_POLICY } from "./types.js";
import type { Decision, Snapshot } from "./types.js";
import { job, site, snapshot } from "./testkit.js";
import type { SiteBuilder } from "./testkit.js";
import { schedule } from "./index.js";
import { scheduleFast } from "./schedule.js";
import { scheduleReference } from "./reference.js";
import { checkDecisions } from "./invariants.js";

const PYTORCH = "nvcr.io/nvidia/pytorch:24.08-py3";

function decide(snap: Snapshot, ...jobs: ReturnType<typeof job>[]): Decision[] {
  const pending = jobs.map((j) => j.build());
  const ds = schedule(snap, pending, DEFAULT_POLICY, 0);
  expect(checkDecisions(snap, pending, ds)).toEqual([]);
  return ds;
}

const placedOn = (d: Decision | undefined): string | undefined =>
  d?.kind === "place" ? d.placements.map((p) => p.nodeId).join(",") : undefined;

describe("container images and node runtimes", () => {
  it("an image job avoids host-process nodes even when they are cheaper", () => {
    const snap = snapshot(
      site("cheap").price("H100", 100).node("host1").gpus("H100", 8),
      site("boxed").price("H100", 300).node("pod1").gpus("H100", 8, { images: true }),
    ).build();
    expect(placedOn(decide(snap, job("j").image(PYTORCH))[0])).toBe("pod1");
  });

  it("an image job waits when no node runs images, and says so per site", () => {
    const snap = snapshot(site("a").node("a1").gpus("H100", 8), site("b").node("b1").gpus("H100", 8)).build();
    expect(decide(snap, job("j").image(PYTORCH))[0]).toEqual({
      kind: "wait",
      jobId: "j",
      reasons: ["no node runs container images (2 sites)"],
    });
  });

  it("a job without an image runs in the site's default image, so only on image nodes there", () => {
    const snap = snapshot(
      site("s")
        .defaultImage("ubuntu:22.04")
        .node("host1")
        .gpus("H100", 8)
        .node("pod1")
        .gpus("H100", 8, { images: true }),
    ).build();
    expect(placedOn(decide(snap, job("j"))[0])).toBe("pod1");
  });

  it("a job with no image and no default image may run on any node (the agent's own default applies)", () => {
    const only = snapshot(site("s").node("pod1").gpus("H100", 8, { images: true })).build();
    expect(placedOn(decide(only, job("j"))[0])).toBe("pod1");
    const hosts = snapshot(site("s").node("host1").gpus("H100", 8)).build();
    expect(placedOn(decide(hosts, job("j"))[0])).toBe("host1");
  });

  it("a site whose policy refuses the image is never chosen, and the reason names the image", () => {
    const snap = snapshot(
      site("strict")
        .price("H100", 100)
        .allowImages("docker.io/library/*")
        .node("p1")
        .gpus("H100", 8, { images: true }),
      site("deny").price("H100", 120).denyImages("nvcr.io/*").node("p2").gpus("H100", 8, { images: true }),
      site("open").price("H100", 300).node("p3").gpus("H100", 8, { images: true }),
    ).build();
    expect(placedOn(decide(snap, job("j").image(PYTORCH))[0])).toBe("p3");
    const closed = snapshot(
      site("strict").allowImages("docker.io/library/*").node("p1").gpus("H100", 8, { images: true }),
      site("deny").denyImages("nvcr.io/*").node("p2").gpus("H100", 8, { images: true }),
      site("hosts").node("h1").gpus("H100", 8),
    ).build();
    expect(decide(closed, job("j").image(PYTORCH))[0]).toEqual({
      kind: "wait",
      jobId: "j",
      reasons: [`image ${PYTORCH} not allowed at site (2 sites)`, "no node runs container images (1 site)"],
    });
  });

  it("short names match the Docker-normalised allowlist", () => {
    const snap = snapshot(
      site("s").allowImages("docker.io/library/*").node("p1").gpus("H100", 8, { images: true }),
    ).build();
    expect(placedOn(decide(snap, job("j").image("ubuntu:22.04"))[0])).toBe("p1");
  });

  it("a gang never mixes image and host-process nodes", () => {
    const snap = snapshot(
      site("s")
        .node("pod1")
        .gpus("H100", 4, { images: true })
        .node("host1")
        .gpus("H100", 4)
        .node("pod2")
        .gpus("H100", 4, { images: true }),
    ).build();
    const d = decide(snap, job("j").gpus(8).perNode(4).image(PYTORCH))[0];
    expect(placedOn(d)).toBe("pod1,pod2");
  });

  it("preemption for an image job looks only at image nodes", () => {
    const snap = snapshot(
      site("s").node("host1").gpus("H100", 8).node("pod1").gpus("H100", 8, { images: true }),
    )
      .lease("old", "pod1", [0, 1, 2, 3, 4, 5, 6, 7], { class: "interruptible" })
      .build();
    const ds = decide(snap, job("j").gpus(8).image(PYTORCH));
    expect(ds.find((d) => d.kind === "preempt")).toMatchObject({ leaseId: "lease-old-pod1", forJobId: "j" });
  });

  it("the invariant checker catches an image job on a host-process node", () => {
    const snap = snapshot(site("s").node("host1").gpus("H100", 8)).build();
    const pending = [job("j").image(PYTORCH).build()];
    const forged: Decision[] = [
      {
        kind: "place",
        jobId: "j",
        siteId: "s",
        gpuModel: "H100",
        placements: [{ nodeId: "host1", gpuIndices: [0] }],
        priceMinorPerGpuHour: 200,
        reasons: [],
      },
    ];
    expect(checkDecisions(snap, pending, forged)).toEqual([
      "j: has an image but placed on node host1, which cannot run container images",
    ]);
  });
});

const IMAGES = [undefined, "ubuntu:22.04", PYTORCH, "ghcr.io/acme/train:1"] as const;
const siteArb = fc.record({
  price: fc.integer({ min: 100, max: 400 }),
  defaultImage: fc.constantFrom(undefined, "ubuntu:22.04"),
  allow: fc.constantFrom<string[]>([], ["docker.io/library/*"], ["nvcr.io/nvidia/*", "ghcr.io/*"]),
  deny: fc.constantFrom<string[]>([], ["nvcr.io/*"], ["*:1"]),
  nodes: fc.array(fc.record({ cap: fc.constantFrom(1, 2, 4, 8), images: fc.boolean(), used: fc.nat(255) }), {
    minLength: 1,
    maxLength: 5,
  }),
});
const jobArb = fc.record({
  gpus: fc.constantFrom(1, 2, 4, 8, 12),
  perNode: fc.option(fc.constantFrom(2, 4), { nil: undefined }),
  image: fc.constantFrom(...IMAGES),
  interruptible: fc.boolean(),
});

type SiteIn = typeof siteArb extends fc.Arbitrary<infer S> ? S : never;
type JobIn = typeof jobArb extends fc.Arbitrary<infer J> ? J : never;

describe("image placement properties", () => {
  const input = fc.tuple(
    fc.array(siteArb, { minLength: 1, maxLength: 4 }),
    fc.array(jobArb, { minLength: 1, maxLength: 10 }),
  );
  const build = ([sites, jobs]: [SiteIn[], JobIn[]]) => {
    const sbs: SiteBuilder[] = [];
    const leases: [string, string, number[]][] = [];
    sites.forEach((s, si) => {
      const b = site(`s${si}`).price("H100", s.price);
      if (s.defaultImage) b.defaultImage(s.defaultImage);
      if (s.allow.length > 0) b.allowImages(...s.allow);
      if (s.deny.length > 0) b.denyImages(...s.deny);
      s.nodes.forEach((n, ni) => {
        b.node(`s${si}n${ni}`).gpus("H100", n.cap, { images: n.images });
        const used = Array.from({ length: n.cap }, (_, g) => g).filter((g) => n.used & (1 << g));
        if (used.length > 0) leases.push([`o${si}${ni}`, `s${si}n${ni}`, used]);
      });
      sbs.push(b);
    });
    const sb = snapshot(...sbs);
    for (const [j, n, g] of leases) sb.lease(j, n, g, { class: "interruptible" });
    const pending = jobs.map((j, k) => {
      const jb = job(`j${k}`).gpus(j.gpus).submitted(k);
      if (j.perNode) jb.perNode(j.perNode);
      if (j.image) jb.image(j.image);
      if (j.interruptible) jb.interruptible();
      return jb.build();
    });
    return { snap: sb.build(), pending };
  };

  it("never places against a node's runtime or a site's image policy (invariant checker)", () => {
    fc.assert(
      fc.property(input, (x) => {
        const { snap, pending } = build(x);
        expect(checkDecisions(snap, pending, scheduleFast(snap, pending, DEFAULT_POLICY, 1000))).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it("the fast scheduler places image jobs exactly as the linear-scan reference", () => {
    fc.assert(
      fc.property(input, (x) => {
        const { snap, pending } = build(x);
        const policy = { ...DEFAULT_POLICY, preemption: false, backfill: false };
        const strip = (ds: Decision[]) =>
          ds.map((d) => (d.kind === "place" ? { ...d, reasons: [] } : d.kind === "wait" ? d.jobId : d));
        expect(strip(scheduleFast(snap, pending, policy, 0))).toEqual(
          strip(scheduleReference(snap, pending, policy, 0)),
        );
      }),
      { numRuns: 300 },
    );
  });
});
