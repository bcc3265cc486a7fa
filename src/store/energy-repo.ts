import type { Kysely } from "kysely";
import type { HourlySeries } from "../energy/index.js";
import type { Database } from "./schema.js";

/** A declared curtailment event and what the control plane did about it. */
export interface Curtailment {
  id: string;
  siteId: string;
  startMs: number;
  endMs: number;
  maxKw: number;
  noticeS: number;
  reason: string;
  state: "scheduled" | "enforcing" | "met" | "unmet" | "ended";
  createdAt: number;
  kwBefore: number | null;
  kwAtStart: number | null;
  metAtMs: number | null;
  stopped: { leaseId: string; jobId: string; class: string; facilityKw: number; at: number }[];
  reasoning: string[];
}

/** A site's meter readings for one month (EU indicators input). */
export interface MeterReading {
  siteId: string;
  month: string;
  eDcKwh: number;
  eItKwh: number | null;
  eResTotKwh: number | null;
  eReuseKwh: number | null;
  wInM3: number | null;
  installedItKw: number;
}

/** A renewable supply contract of a site for one period. */
export interface ContractRecord {
  id: string;
  siteId: string;
  kind: "ppa" | "guarantee-of-origin" | "on-site";
  periodStartMs: number;
  periodEndMs: number;
  kwh: number;
  gPerKwh: number | null;
}

const curtailmentRow = (r: Database["curtailments"]): Curtailment => ({
  id: r.id,
  siteId: r.site_id,
  startMs: r.start_ms,
  endMs: r.end_ms,
  maxKw: r.max_kw,
  noticeS: r.notice_s,
  reason: r.reason,
  state: r.state as Curtailment["state"],
  createdAt: r.created_at,
  kwBefore: r.kw_before,
  kwAtStart: r.kw_at_start,
  metAtMs: r.met_at_ms,
  stopped: JSON.parse(r.stopped_json) as Curtailment["stopped"],
  reasoning: JSON.parse(r.reasoning_json) as string[],
});

/** Energy profiles, meter readings, renewable contracts and curtailment events. */
export class EnergyRepo {
  constructor(protected readonly db: Kysely<Database>) {}

  async setSeries(
    siteId: string,
    kind: "carbon" | "price",
    s: HourlySeries,
    source: string,
    now: number,
  ): Promise<void> {
    const values = {
      start_ms: s.startMs,
      step_ms: s.stepMs,
      values_json: JSON.stringify(s.values),
      source,
      updated_at: now,
    };
    await this.db
      .insertInto("energy_series")
      .values({ site_id: siteId, kind, ...values })
      .onConflict((oc) => oc.columns(["site_id", "kind"]).doUpdateSet(values))
      .execute();
  }
  async series(
    siteId?: string,
  ): Promise<
    { siteId: string; kind: "carbon" | "price"; series: HourlySeries; source: string; updatedAt: number }[]
  > {
    let q = this.db.selectFrom("energy_series").selectAll();
    if (siteId) q = q.where("site_id", "=", siteId);
    return (await q.orderBy("site_id").orderBy("kind").execute()).map((r) => ({
      siteId: r.site_id,
      kind: r.kind as "carbon" | "price",
      series: { startMs: r.start_ms, stepMs: r.step_ms, values: JSON.parse(r.values_json) as number[] },
      source: r.source,
      updatedAt: r.updated_at,
    }));
  }

  async addContract(c: ContractRecord, now: number): Promise<void> {
    await this.db
      .insertInto("renewable_contracts")
      .values({
        id: c.id,
        site_id: c.siteId,
        kind: c.kind,
        period_start_ms: c.periodStartMs,
        period_end_ms: c.periodEndMs,
        kwh: c.kwh,
        g_per_kwh: c.gPerKwh,
        created_at: now,
      })
      .execute();
  }
  async contracts(siteId: string): Promise<ContractRecord[]> {
    const rows = await this.db
      .selectFrom("renewable_contracts")
      .selectAll()
      .where("site_id", "=", siteId)
      .orderBy("period_start_ms")
      .orderBy("id")
      .execute();
    return rows.map((r) => ({
      id: r.id,
      siteId: r.site_id,
      kind: r.kind as ContractRecord["kind"],
      periodStartMs: r.period_start_ms,
      periodEndMs: r.period_end_ms,
      kwh: r.kwh,
      gPerKwh: r.g_per_kwh,
    }));
  }

  async putReading(m: MeterReading, now: number): Promise<void> {
    const v = {
      e_dc_kwh: m.eDcKwh,
      e_it_kwh: m.eItKwh,
      e_res_tot_kwh: m.eResTotKwh,
      e_reuse_kwh: m.eReuseKwh,
      w_in_m3: m.wInM3,
      installed_it_kw: m.installedItKw,
      updated_at: now,
    };
    await this.db
      .insertInto("meter_readings")
      .values({ site_id: m.siteId, month: m.month, ...v })
      .onConflict((oc) => oc.columns(["site_id", "month"]).doUpdateSet(v))
      .execute();
  }
  async reading(siteId: string, month: string): Promise<MeterReading | undefined> {
    const r = await this.db
      .selectFrom("meter_readings")
      .selectAll()
      .where("site_id", "=", siteId)
      .where("month", "=", month)
      .executeTakeFirst();
    return (
      r && {
        siteId: r.site_id,
        month: r.month,
        eDcKwh: r.e_dc_kwh,
        eItKwh: r.e_it_kwh,
        eResTotKwh: r.e_res_tot_kwh,
        eReuseKwh: r.e_reuse_kwh,
        wInM3: r.w_in_m3,
        installedItKw: r.installed_it_kw,
      }
    );
  }

  async createCurtailment(c: Curtailment): Promise<Curtailment> {
    await this.db
      .insertInto("curtailments")
      .values({
        id: c.id,
        site_id: c.siteId,
        start_ms: c.startMs,
        end_ms: c.endMs,
        max_kw: c.maxKw,
        notice_s: c.noticeS,
        reason: c.reason,
        state: c.state,
        created_at: c.createdAt,
        kw_before: c.kwBefore,
        kw_at_start: c.kwAtStart,
        met_at_ms: c.metAtMs,
        stopped_json: JSON.stringify(c.stopped),
        reasoning_json: JSON.stringify(c.reasoning),
      })
      .execute();
    return c;
  }
  async updateCurtailment(c: Curtailment): Promise<void> {
    await this.db
      .updateTable("curtailments")
      .set({
        state: c.state,
        kw_before: c.kwBefore,
        kw_at_start: c.kwAtStart,
        met_at_ms: c.metAtMs,
        stopped_json: JSON.stringify(c.stopped),
        reasoning_json: JSON.stringify(c.reasoning),
      })
      .where("id", "=", c.id)
      .execute();
  }
  async curtailments(filter: { siteIds?: string[]; activeAt?: number } = {}): Promise<Curtailment[]> {
    let q = this.db.selectFrom("curtailments").selectAll();
    if (filter.siteIds) {
      if (filter.siteIds.length === 0) return [];
      q = q.where("site_id", "in", filter.siteIds);
    }
    if (filter.activeAt !== undefined) q = q.where("end_ms", ">", filter.activeAt);
    return (await q.orderBy("start_ms").orderBy("id").execute()).map(curtailmentRow);
  }
  async curtailment(id: string): Promise<Curtailment | undefined> {
    const r = await this.db.selectFrom("curtailments").selectAll().where("id", "=", id).executeTakeFirst();
    return r && curtailmentRow(r);
  }
}
