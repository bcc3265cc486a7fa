import { describe, expect, expectTypeOf, it } from "vitest";
import type { Job as DomainJob, JobRequest, JobSpec } from "../domain/index.js";
import { Job, JobRequestView, JobSpecView, type Assignment } from "./index.js";

describe("the wire contract", () => {
  it("names every field of the domain's job, request and spec (the serializer drops unnamed ones)", () => {
    expectTypeOf<keyof JobRequestView>().toEqualTypeOf<keyof JobRequest>();
    expectTypeOf<keyof JobSpecView>().toEqualTypeOf<keyof JobSpec>();
    expectTypeOf<keyof Job>().toEqualTypeOf<keyof DomainJob>();
    expectTypeOf<JobSpec>().toMatchTypeOf<Assignment["spec"]>();
    const job: DomainJob = {
      id: "job_1",
      tenantId: "ten_1",
      name: "x",
      request: { gpuModels: ["H100"], gpus: 1, class: "on-demand", image: "busybox:1.36" },
      spec: { command: ["true"], env: { A: "1" }, network: false, gracePeriodS: 5 },
      state: "pending",
      reasons: [],
      submittedAt: 1,
    };
    expect(Job.parse(job)).toEqual(job);
    expect(JobRequestView.parse(job.request)).toEqual(job.request);
    expect(JobSpecView.parse(job.spec)).toEqual(job.spec);
  });
});
