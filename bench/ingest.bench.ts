// Usage ingestion through a real server process over real HTTP, on SQLite and PostgreSQL: batches of
// 5,000 records through the bounded route and through the ingest before usage bounds (the baseline,
// alternating rounds in the same process), and one record per request.
import {
  describeIngest,
  runIngestBench,
  type IngestBenchResult,
} from "../src/cli/commands/bench-ingest-run.js";

const TARGETS = { sqlite: 100_000, postgres: 30_000 } as const;
/** Issue 12: the bounded ingest stays within 10 % of the ingest before bounds. */
const MIN_VS_BASELINE = 0.9;

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
    const cpu = r.vsBaseline.recordsPerServerCpuSecond?.median ?? r.vsBaseline.recordsPerSecond.median;
    console.log(
      `${label}: ${describeIngest(r)}; target ${target} records/s: ${r.recordsPerSecond >= target ? "met" : "MISSED"}; ` +
        `within 10 % of the baseline (server CPU per record): ${cpu >= MIN_VS_BASELINE ? "met" : "MISSED"}`,
    );
  }
}
