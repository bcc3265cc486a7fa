import type { Kysely, Migration } from "kysely";
import { intType, serialId, type MigrationContext } from "./context.js";

type Db = Kysely<unknown>;

/** 0001: accounts, fleet, jobs, leases, usage, events, logs, settings. */
export function core(ctx: MigrationContext): Migration {
  const int = intType(ctx);
  const serial = (_db: Db) => serialId(ctx);
  return {
    async up(db: Db): Promise<void> {
      await db.schema
        .createTable("operators")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("created_at", int, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("tenants")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("country", "text", (c) => c.notNull())
        .addColumn("vat_id", "text")
        .addColumn("credit_limit_minor", int, (c) => c.notNull().defaultTo(0))
        .addColumn("created_at", int, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("api_keys")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("key_hash", "text", (c) => c.notNull().unique())
        .addColumn("prefix", "text", (c) => c.notNull())
        .addColumn("role", "text", (c) => c.notNull())
        .addColumn("owner_id", "text")
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("created_at", int, (c) => c.notNull())
        .addColumn("expires_at", int)
        .addColumn("revoked_at", int)
        .execute();
      await db.schema
        .createTable("sites")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("operator_id", "text", (c) => c.notNull().references("operators.id"))
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("country", "text", (c) => c.notNull())
        .addColumn("lat", "real", (c) => c.notNull())
        .addColumn("lon", "real", (c) => c.notNull())
        .addColumn("power_kw", "real", (c) => c.notNull())
        .addColumn("pue", "real", (c) => c.notNull())
        .addColumn("cooling", "text", (c) => c.notNull())
        .addColumn("node_overhead_w", "real", (c) => c.notNull())
        .addColumn("carbon_g_per_kwh", "real")
        .addColumn("created_at", int, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("prices")
        .addColumn("site_id", "text", (c) => c.notNull().references("sites.id"))
        .addColumn("gpu_model", "text", (c) => c.notNull())
        .addColumn("on_demand_minor", int, (c) => c.notNull())
        .addColumn("interruptible_minor", int, (c) => c.notNull())
        .addColumn("updated_at", int, (c) => c.notNull())
        .addPrimaryKeyConstraint("prices_pk", ["site_id", "gpu_model"])
        .execute();
      await db.schema
        .createTable("enrolment_tokens")
        .addColumn("token_hash", "text", (c) => c.primaryKey())
        .addColumn("site_id", "text", (c) => c.notNull().references("sites.id"))
        .addColumn("created_at", int, (c) => c.notNull())
        .addColumn("expires_at", int, (c) => c.notNull())
        .addColumn("used_at", int)
        .addColumn("node_id", "text")
        .execute();
      await db.schema
        .createTable("nodes")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("site_id", "text", (c) => c.notNull().references("sites.id"))
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("state_reason", "text")
        .addColumn("executor", "text", (c) => c.notNull())
        .addColumn("gpus_json", "text", (c) => c.notNull())
        .addColumn("driver_version", "text")
        .addColumn("last_heartbeat_at", int)
        .addColumn("created_at", int, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("jobs")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("tenant_id", "text", (c) => c.notNull().references("tenants.id"))
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("request_json", "text", (c) => c.notNull())
        .addColumn("spec_json", "text", (c) => c.notNull())
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("state_reason", "text")
        .addColumn("reasons_json", "text", (c) => c.notNull())
        .addColumn("submitted_at", int, (c) => c.notNull())
        .addColumn("started_at", int)
        .addColumn("ended_at", int)
        .addColumn("exit_code", int)
        .execute();
      await db.schema.createIndex("jobs_state_idx").on("jobs").columns(["state", "submitted_at"]).execute();
      await db.schema
        .createIndex("jobs_tenant_idx")
        .on("jobs")
        .columns(["tenant_id", "submitted_at"])
        .execute();
      await db.schema
        .createTable("leases")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("job_id", "text", (c) => c.notNull().references("jobs.id"))
        .addColumn("tenant_id", "text", (c) => c.notNull())
        .addColumn("site_id", "text", (c) => c.notNull())
        .addColumn("operator_id", "text", (c) => c.notNull())
        .addColumn("node_id", "text", (c) => c.notNull())
        .addColumn("country", "text", (c) => c.notNull())
        .addColumn("gpu_model", "text", (c) => c.notNull())
        .addColumn("gpu_indices_json", "text", (c) => c.notNull())
        .addColumn("class", "text", (c) => c.notNull())
        .addColumn("price_minor", int, (c) => c.notNull())
        .addColumn("currency", "text", (c) => c.notNull())
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("created_at", int, (c) => c.notNull())
        .addColumn("started_at", int)
        .addColumn("ended_at", int)
        .addColumn("stop_reason", "text")
        .addColumn("stop_requested_at", int)
        .addColumn("stop_deadline_at", int)
        .execute();
      await db.schema.createIndex("leases_state_idx").on("leases").columns(["state"]).execute();
      await db.schema.createIndex("leases_node_idx").on("leases").columns(["node_id", "state"]).execute();
      await db.schema.createIndex("leases_job_idx").on("leases").columns(["job_id"]).execute();
      await db.schema
        .createTable("usage")
        .addColumn("node_id", "text", (c) => c.notNull())
        .addColumn("seq", int, (c) => c.notNull())
        .addColumn("lease_id", "text", (c) => c.notNull())
        .addColumn("from_ms", int, (c) => c.notNull())
        .addColumn("to_ms", int, (c) => c.notNull())
        .addColumn("gpu_ms", int, (c) => c.notNull())
        .addColumn("energy_mwh", int, (c) => c.notNull())
        .addColumn("energy_source", "text", (c) => c.notNull())
        .addColumn("received_at", int, (c) => c.notNull())
        .addPrimaryKeyConstraint("usage_pk", ["node_id", "seq"])
        .execute();
      await db.schema.createIndex("usage_lease_idx").on("usage").columns(["lease_id"]).execute();
      await serial(db)(db.schema.createTable("job_events"))
        .addColumn("job_id", "text", (c) => c.notNull())
        .addColumn("at", int, (c) => c.notNull())
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("message", "text", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("job_events_job_idx").on("job_events").columns(["job_id", "id"]).execute();
      await serial(db)(db.schema.createTable("logs"))
        .addColumn("job_id", "text", (c) => c.notNull())
        .addColumn("lease_id", "text", (c) => c.notNull())
        .addColumn("stream", "text", (c) => c.notNull())
        .addColumn("text", "text", (c) => c.notNull())
        .addColumn("at", int, (c) => c.notNull())
        .execute();
      await db.schema.createIndex("logs_job_idx").on("logs").columns(["job_id", "id"]).execute();
      await db.schema
        .createTable("settings")
        .addColumn("key", "text", (c) => c.primaryKey())
        .addColumn("value", "text", (c) => c.notNull())
        .execute();
    },
    async down(db: Db): Promise<void> {
      for (const t of [
        "settings",
        "logs",
        "job_events",
        "usage",
        "leases",
        "jobs",
        "nodes",
        "enrolment_tokens",
        "prices",
        "sites",
        "api_keys",
        "tenants",
        "operators",
      ]) {
        await db.schema.dropTable(t).ifExists().execute();
      }
    },
  };
}
