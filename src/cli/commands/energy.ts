import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { action, clientFor, money, output, table, time, UsageError } from "../context.js";

const when = (v: string): number => {
  const t = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(t))
    throw new UsageError(`"${v}" is not a time: use ISO 8601 (2026-11-28T18:00:00Z) or epoch ms`);
  return t;
};

/** `zumbido energy ...` and `zumbido curtail ...`. */
export function registerEnergyCommands(program: Command): void {
  const energy = program.command("energy").description("energy, carbon and the EU data-centre indicators");
  energy
    .command("import")
    .description("import a site's hourly carbon (gCO2e/kWh) or price (EUR/MWh) series from CSV")
    .requiredOption("--site <id>")
    .requiredOption("--kind <kind>", "carbon or price")
    .requiredOption("--file <csv>", "timestamp,value CSV or an Electricity Maps export")
    .action(
      action(async (o: { site: string; kind: string; file: string }, cmd: Command) => {
        if (o.kind !== "carbon" && o.kind !== "price")
          throw new UsageError(`--kind must be carbon or price, not "${o.kind}"`);
        const j = await clientFor(cmd).requestRaw<{ hours: number; mean: number; format: string }>(
          "PUT",
          `/v1/sites/${o.site}/energy/${o.kind}`,
          readFileSync(o.file, "utf8"),
          "text/csv",
        );
        output(
          cmd,
          j,
          (x: typeof j) => `imported ${x.hours} hours of ${o.kind} (${x.format}), mean ${x.mean}`,
        );
      }),
    );
  energy
    .command("job")
    .description("a job's facility energy and CO2e (location- and market-based)")
    .argument("<id>")
    .action(
      action(async (id: string, _o: unknown, cmd: Command) => {
        const e = await clientFor(cmd).get<{
          facilityKwh: number;
          gpuKwh: number;
          locationKgCo2e: number;
          marketKgCo2e: number;
          energyCostMinor: number | null;
        }>(`/v1/jobs/${id}/energy`);
        output(
          cmd,
          e,
          (x: typeof e) =>
            `${id}: ${x.facilityKwh} kWh at the facility (${x.gpuKwh} kWh on GPUs); ${x.locationKgCo2e} kgCO2e location-based, ${x.marketKgCo2e} kgCO2e market-based${x.energyCostMinor !== null ? `; energy cost ${money(x.energyCostMinor)}` : ""}`,
        );
      }),
    );
  energy
    .command("summary")
    .description("energy and CO2e per tenant, site or job for a month")
    .argument("<month>", "YYYY-MM")
    .option("--by <key>", "tenant, site or job", "site")
    .action(
      action(async (month: string, o: { by: string }, cmd: Command) => {
        const rows = await clientFor(cmd).get<Record<string, unknown>[]>(
          `/v1/energy/summary?month=${month}&by=${o.by}`,
        );
        output(cmd, rows, (x: typeof rows) =>
          table(
            [o.by.toUpperCase(), "MONTH", "FACILITY kWh", "kgCO2e (location)", "kgCO2e (market)"],
            x.map((r) => [
              String((r[o.by] ?? r.key ?? "") as string),
              String((r.month ?? "") as string),
              String(r.facilityKwh),
              String(r.locationKgCo2e),
              String(r.marketKgCo2e),
            ]),
          ),
        );
      }),
    );
  energy
    .command("reading")
    .description("record a site's meter readings for a month (returns its EU indicators)")
    .requiredOption("--site <id>")
    .requiredOption("--month <YYYY-MM>")
    .requiredOption("--e-dc <kWh>", "E_DC: total facility energy", Number)
    .requiredOption("--installed-it-kw <kW>", "installed IT power", Number)
    .option("--e-it <kWh>", "E_IT: IT energy (default: what Zumbido metered)", Number)
    .option("--e-res <kWh>", "E_RES-TOT: renewable energy", Number)
    .option("--e-reuse <kWh>", "E_REUSE: energy reused", Number)
    .option("--water <m3>", "W_IN: water input", Number)
    .action(
      action(
        async (
          o: {
            site: string;
            month: string;
            eDc: number;
            installedItKw: number;
            eIt?: number;
            eRes?: number;
            eReuse?: number;
            water?: number;
          },
          cmd: Command,
        ) => {
          const r = await clientFor(cmd).put<{
            pue: number;
            ref: number | null;
            erf: number | null;
            wueLPerKwh: number | null;
            notices: string[];
          }>(`/v1/sites/${o.site}/meter-readings/${o.month}`, {
            eDcKwh: o.eDc,
            installedItKw: o.installedItKw,
            ...(o.eIt !== undefined ? { eItKwh: o.eIt } : {}),
            ...(o.eRes !== undefined ? { eResTotKwh: o.eRes } : {}),
            ...(o.eReuse !== undefined ? { eReuseKwh: o.eReuse } : {}),
            ...(o.water !== undefined ? { wInM3: o.water } : {}),
          });
          output(cmd, r, (x: typeof r) =>
            [
              `PUE ${x.pue}  REF ${x.ref ?? "-"}  ERF ${x.erf ?? "-"}  WUE ${x.wueLPerKwh ?? "-"} L/kWh`,
              ...x.notices,
            ].join("\n"),
          );
        },
      ),
    );
  energy
    .command("indicators")
    .description("the EU data-centre indicators of your sites for a month (--csv for the export)")
    .argument("<month>", "YYYY-MM")
    .option("--csv", "print the CSV export")
    .action(
      action(async (month: string, o: { csv?: boolean }, cmd: Command) => {
        const c = clientFor(cmd);
        if (o.csv) {
          process.stdout.write(await c.getText(`/v1/indicators?month=${month}&format=csv`));
          return;
        }
        const r = await c.get<{
          sites: {
            siteId: string;
            PUE: number;
            REF: number | null;
            ERF: number | null;
            WUE: number | null;
            reportingRequired: boolean;
          }[];
          sitesWithoutReadings: string[];
        }>(`/v1/indicators?month=${month}`);
        output(cmd, r, (x: typeof r) =>
          [
            table(
              ["SITE", "PUE", "REF", "ERF", "WUE L/kWh", "MUST REPORT"],
              x.sites.map((s) => [
                s.siteId,
                s.PUE,
                s.REF,
                s.ERF,
                s.WUE,
                s.reportingRequired ? "yes" : "no (< 500 kW)",
              ]),
            ),
            x.sitesWithoutReadings.length
              ? `no meter readings yet for: ${x.sitesWithoutReadings.join(", ")} (zumbido energy reading ...)`
              : "",
          ].join("\n"),
        );
      }),
    );

  const curtail = program.command("curtail").description("grid curtailment events (operator)");
  curtail
    .command("declare")
    .description(
      "cap a site's facility draw for a window; interruptible work stops first, with a checkpoint notice",
    )
    .requiredOption("--site <id>")
    .requiredOption("--start <time>", "ISO 8601 or epoch ms")
    .requiredOption("--end <time>", "ISO 8601 or epoch ms")
    .requiredOption("--max-kw <kW>", "the cap, facility kW", Number)
    .option("--notice <s>", "seconds of notice before the start (default: until the start)", Number)
    .option("--reason <text>")
    .action(
      action(
        async (
          o: { site: string; start: string; end: string; maxKw: number; notice?: number; reason?: string },
          cmd: Command,
        ) => {
          const c = await clientFor(cmd).post<{ id: string; startMs: number; maxKw: number }>(
            "/v1/curtailments",
            {
              siteId: o.site,
              start: when(o.start),
              end: when(o.end),
              maxKw: o.maxKw,
              ...(o.notice !== undefined ? { noticeS: o.notice } : {}),
              ...(o.reason ? { reason: o.reason } : {}),
            },
          );
          output(
            cmd,
            c,
            (x: typeof c) =>
              `curtailment ${x.id}: at most ${x.maxKw} kW from ${time(x.startMs)}; follow it with zumbido curtail show ${x.id}`,
          );
        },
      ),
    );
  curtail.command("list").action(
    action(async (_o: unknown, cmd: Command) => {
      const l = await clientFor(cmd).get<
        {
          id: string;
          siteId: string;
          startMs: number;
          endMs: number;
          maxKw: number;
          state: string;
          kwBefore: number | null;
          metAtMs: number | null;
          stopped: unknown[];
        }[]
      >("/v1/curtailments");
      output(cmd, l, (x: typeof l) =>
        table(
          ["ID", "SITE", "START", "END", "MAX kW", "STATE", "kW BEFORE", "MET AT", "STOPPED"],
          x.map((c) => [
            c.id,
            c.siteId,
            time(c.startMs),
            time(c.endMs),
            c.maxKw,
            c.state,
            c.kwBefore,
            time(c.metAtMs),
            c.stopped.length,
          ]),
        ),
      );
    }),
  );
  curtail
    .command("show")
    .argument("<id>")
    .action(
      action(async (id: string, _o: unknown, cmd: Command) => {
        const c = await clientFor(cmd).get<{
          id: string;
          state: string;
          kwBefore: number | null;
          kwAtStart: number | null;
          metAtMs: number | null;
          maxKw: number;
          stopped: { leaseId: string; class: string; facilityKw: number }[];
          reasoning: string[];
        }>(`/v1/curtailments/${id}`);
        output(cmd, c, (x: typeof c) =>
          [
            `${x.id}: ${x.state}; cap ${x.maxKw} kW; before ${x.kwBefore ?? "-"} kW, at start ${x.kwAtStart ?? "-"} kW, met at ${time(x.metAtMs)}`,
            ...x.stopped.map((s) => `  stopped ${s.leaseId} (${s.class}, ${s.facilityKw} kW)`),
            ...x.reasoning.map((r) => `  ${r}`),
          ].join("\n"),
        );
      }),
    );
}
