// Usage ingestion through a real server process over real HTTP, on SQLite and PostgreSQL: batches of
// 5,000 records vs one record per request (the baseline, measured in the same run).
import { runIngestBench, type IngestBenchResult } from "../src/cli/commands/bench-ingest.js";

const TARGETS = { sqlite: 100_000, postgres: 30_000 } as const;

/** Runs `bench ingest` for SQLite (NORMAL and FULL) and PostgreSQL and prints figures and ratios. */
export default async function ingestBench(): Promise<void> {
  const runs: { label: string; run: () => Promise<IngestBenchResult> }[] = [
    {
      label: "sqlite synchronous=NORMAL",
      run: () => runIngestBench({ store: "sqlite", records: 1_000_000 }),
    },
    {
      label: "sqlite synchronous=FULL",
      run: () => runIngestBench({ store: "sqlite", records: 1_000_000, synchronous: "FULL" }),
    },
    {
      label: "postgres",
      run: () =>
        runIngestBench({
          store: "postgres",
          records: 500_000,
          ...(process.env.ZUMBIDO_TEST_PG_URL ? { pgUrl: process.env.ZUMBIDO_TEST_PG_URL } : {}),
        }),
    },
  ];
  for (const { label, run } of runs) {
    let r: IngestBenchResult;
    try {
      r = await run();
    } catch (err) {
      console.log(`${label}: not run (${(err as Error).message.split("\n")[0]})`);
      continue;
    }
    const target = TARGETS[r.store];
    console.log(
      `${label}: ${r.records} records in batches of ${r.batch} (${r.concurrency} in flight): ${r.recordsPerSecond} records/s ` +
        `(target ${target}: ${r.recordsPerSecond >= target ? "met" : "MISSED"}); one record per request: ${r.referenceRecordsPerSecond} records/s; ` +
        `ratio x${r.ratio}; server CPU ${r.serverCpuSeconds ?? "?"} s (${r.recordsPerServerCpuSecond ?? "?"} records per server CPU-second); lost ${r.lost}, duplicated ${r.duplicated}, sums match: ${r.gpuMsMatches}`,
    );
  }
}
