import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { fairShareOrder } from "./fair-share.js";
import { job } from "./testkit.js";

describe("fair share", () => {
  it("a tenant that used less goes first", () => {
    const jobs = [
      job("heavy-1").of("heavy").submitted(0).build(),
      job("light-1").of("light").submitted(5).build(),
    ];
    expect(fairShareOrder(jobs, { heavy: 10_000, light: 0 }, undefined).map((j) => j.id)).toEqual([
      "light-1",
      "heavy-1",
    ]);
  });

  it("interleaves tenants with equal usage", () => {
    const jobs = ["a1", "a2", "a3"]
      .map((id, i) => job(id).of("a").submitted(i).build())
      .concat(
        ["b1", "b2"].map((id, i) =>
          job(id)
            .of("b")
            .submitted(10 + i)
            .build(),
        ),
      );
    expect(fairShareOrder(jobs, {}, undefined).map((j) => j.id)).toEqual(["a1", "b1", "a2", "b2", "a3"]);
  });

  it("weights give a tenant a bigger share", () => {
    const jobs = ["a1", "a2", "a3", "a4"]
      .map((id, i) => job(id).of("a").submitted(i).build())
      .concat(["b1", "b2"].map((id, i) => job(id).of("b").submitted(i).build()));
    const order = fairShareOrder(jobs, {}, { a: 3 }).map((j) => j.id);
    expect(order.slice(0, 4).filter((id) => id.startsWith("a"))).toHaveLength(3);
  });

  it("is a permutation that keeps each tenant's submit order", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            t: fc.constantFrom("a", "b", "c"),
            at: fc.nat(100),
            g: fc.integer({ min: 1, max: 8 }),
          }),
          { maxLength: 40 },
        ),
        (rows) => {
          const jobs = rows.map((r, i) => job(`j${i}`).of(r.t).submitted(r.at).gpus(r.g).build());
          const out = fairShareOrder(jobs, { a: 5000 }, undefined);
          expect(out.map((j) => j.id).sort()).toEqual(jobs.map((j) => j.id).sort());
          for (const t of ["a", "b", "c"]) {
            const mine = out.filter((j) => j.tenantId === t).map((j) => j.submittedAt);
            expect(mine).toEqual([...mine].sort((x, y) => x - y));
          }
        },
      ),
    );
  });
});
