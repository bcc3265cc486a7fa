import { describe, expect, it } from "vitest";
import { DEFAULT_POLICY } from "./types.js";
import type { Decision } from "./types.js";
import { job, site, snapshot } from "./testkit.js";
import { schedule } from "./index.js";

const fed = () =>
  snapshot(
    site("asturias").country("ES").carbon(120).price("H100", 250).node("es1").gpus("H100", 8),
    site("oslo").country("NO").carbon(20).price("H100", 300).node("no1").gpus("H100", 8),
    site("texas").country("US").carbon(400).price("H100", 150).node("us1").gpus("H100", 8),
    site("kazakh").country("KZ").carbon(600).price("A100", 90).node("kz1").gpus("A100", 8, { memoryGb: 40 }),
  ).build();

function only(ds: Decision[]): Decision {
  expect(ds).toHaveLength(1);
  return ds[0]!;
}

describe("constraints", () => {
  const rows: { name: string; j: ReturnType<typeof job>; site?: string; reasons?: string[] }[] = [
    { name: "cheapest overall is Texas", j: job("a"), site: "texas" },
    { name: "EU keeps it in Spain", j: job("a").within("EU"), site: "asturias" },
    { name: "EEA allows Norway too, Spain is cheaper", j: job("a").within("EEA"), site: "asturias" },
    { name: "a country list is obeyed", j: job("a").countries("NO"), site: "oslo" },
    { name: "a carbon cap excludes dirty grids", j: job("a").carbonCap(100), site: "oslo" },
    {
      name: "memory floor rules out the 40 GB A100",
      j: job("a").model("A100").memory(80),
      reasons: ["no A100 offered (3 sites)", "GPU memory below 80 GB (1 site)"],
    },
    {
      name: "a price cap under every offer says so per site",
      j: job("a").maxPrice(120),
      reasons: ["no H100 offered (1 site)", "price cap 1.20 EUR/GPU-h below every offer (3 sites)"],
    },
    {
      name: "EU plus a low cap names both constraints",
      j: job("a").within("EU").maxPrice(200),
      reasons: ["outside EU (3 sites)", "price cap 2.00 EUR/GPU-h below every offer (1 site)"],
    },
    { name: "countries with no site", j: job("a").countries("FR"), reasons: ["country not in FR (4 sites)"] },
    {
      name: "too big a gang",
      j: job("a").gpus(16),
      reasons: ["no H100 offered (1 site)", "no node class can hold a 16-GPU gang (3 sites)"],
    },
    {
      name: "carbon cap below every grid",
      j: job("a").carbonCap(10),
      reasons: ["grid carbon above the 10 g/kWh cap (4 sites)"],
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const d = only(schedule(fed(), [row.j.build()], DEFAULT_POLICY, 0));
      if (row.site) {
        expect(d.kind).toBe("place");
        if (d.kind === "place") expect(d.siteId).toBe(row.site);
      } else {
        expect(d).toEqual({ kind: "wait", jobId: "a", reasons: row.reasons });
      }
    });
  }

  it("says when the GPUs are simply busy", () => {
    const snap = snapshot(site("a").node("a1").gpus("H100", 2)).lease("x", "a1", [0, 1]).build();
    const d = only(schedule(snap, [job("j").build()], DEFAULT_POLICY, 0));
    expect(d).toEqual({
      kind: "wait",
      jobId: "j",
      reasons: ["not enough free H100 GPUs for a 1-GPU gang (1 site)"],
    });
  });

  it("interruptible jobs pay the interruptible price", () => {
    const snap = snapshot(site("a").price("H100", 300, 90).node("a1").gpus("H100", 8)).build();
    const d = only(schedule(snap, [job("j").interruptible().maxPrice(100).build()], DEFAULT_POLICY, 0));
    expect(d.kind === "place" && d.priceMinorPerGpuHour).toBe(90);
  });

  it("carbon weight can move work to a cleaner site at the same price", () => {
    const snap = snapshot(
      site("dirty").carbon(500).price("H100", 200).node("d1").gpus("H100", 8),
      site("clean").carbon(50).price("H100", 200).node("c1").gpus("H100", 8),
    ).build();
    const d = only(schedule(snap, [job("j").build()], DEFAULT_POLICY, 0));
    expect(d.kind === "place" && d.siteId).toBe("clean");
  });

  it("refuses a malformed request with the field named", () => {
    const snap = snapshot(site("a").node("a1").gpus("H100", 8)).build();
    const d = only(schedule(snap, [job("j").gpus(0).build()], DEFAULT_POLICY, 0));
    expect(d.kind === "wait" && d.reasons[0]).toMatch(/request\.gpus/);
  });
});

describe("backfill reservation", () => {
  it("does not hold nodes for a head that its price cap keeps off them", () => {
    // The interruptible price (210, e.g. after a power-price spike) is above the head's cap of 150.
    const snap = snapshot(
      site("es").country("ES").price("H100", 300, 210).node("n1").gpus("H100", 8),
    ).build();
    const capped = job("capped").gpus(1).model("H100").maxPrice(150).interruptible().submitted(1).build();
    const next = job("next").gpus(1).model("H100").interruptible().submitted(2).build();
    const d = schedule(snap, [capped, next], DEFAULT_POLICY, 10);
    expect(d.find((x) => "jobId" in x && x.jobId === "capped")?.kind).toBe("wait");
    expect(d.find((x) => "jobId" in x && x.jobId === "next")?.kind).toBe("place");
  });
});
