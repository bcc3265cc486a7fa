import { describe, expect, it } from "vitest";
import { parseTraceCsv, TraceError } from "./trace.js";

describe("trace CSV", () => {
  it("reads the zumbido format with optional columns, sorted by submit time", () => {
    const jobs = parseTraceCsv(
      "job_id,submit_s,duration_s,num_gpus,gpu_seconds,vc,gpu_model,class\nb,20,5,2,10,t2,A100,interruptible\na,10,7.9,1,7,t1,,\n",
    );
    expect(jobs).toEqual([
      { id: "a", submitS: 10, durationS: 7, gpus: 1, tenant: "t1" },
      { id: "b", submitS: 20, durationS: 5, gpus: 2, tenant: "t2", gpuModel: "A100", class: "interruptible" },
    ]);
  });

  it("reads the upstream Philly export, counting seconds from its first timestamp", () => {
    const jobs = parseTraceCsv(
      "timestamp,duration,num_gpus,gpu_time,cluster\n2017-10-09 07:01:55,66.0,1,66.0,11cb48\n2017-10-09 06:13:03,2951.0,8,23608.0,6214e9\n",
    );
    expect(jobs.map((j) => [j.id, j.submitS, j.durationS, j.gpus, j.tenant])).toEqual([
      ["philly-00001", 0, 2951, 8, "6214e9"],
      ["philly-00000", 2932, 66, 1, "11cb48"],
    ]);
  });

  it("names the missing column", () => {
    expect(() => parseTraceCsv("job_id,submit_s,num_gpus\n")).toThrow(/lacks column "duration_s"/);
  });

  it("names the line and field of a bad value", () => {
    expect(() => parseTraceCsv("job_id,submit_s,duration_s,num_gpus\na,0,10,zero\n")).toThrow(TraceError);
    expect(() => parseTraceCsv("job_id,submit_s,duration_s,num_gpus\na,0,10,zero\n")).toThrow(
      /line 2: num_gpus/,
    );
    expect(() => parseTraceCsv("job_id,submit_s,duration_s,num_gpus,class\na,0,10,1,spot\n")).toThrow(
      /class must be on-demand or interruptible/,
    );
  });
});
