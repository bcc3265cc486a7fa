import type { ColumnType, Generated } from "kysely";
import type { CheckpointTables } from "./schema-checkpoints.js";
import type { GpuModelTables } from "./schema-gpu-models.js";
import type { SecretTables } from "./schema-secrets.js";
import type { EnergyTables } from "./schema-energy.js";
import type { LedgerTables } from "./schema-ledger.js";
import type { VolumeTables } from "./schema-volumes.js";
import type { InstanceTables } from "./schema-instances.js";

/** Integer columns that PostgreSQL returns as bigint; we parse them to numbers (safe integers). */
type Int = number;

export interface OperatorsTable {
  id: string;
  name: string;
  created_at: Int;
  /** Who approves this operator's node inventory changes: "operator" or "admin". */
  inventory_approver: Generated<string>;
}
export interface TenantsTable {
  id: string;
  name: string;
  country: string;
  vat_id: string | null;
  credit_limit_minor: Int;
  created_at: Int;
}
export interface ApiKeysTable {
  id: string;
  key_hash: string;
  prefix: string;
  role: string;
  owner_id: string | null;
  name: string;
  created_at: Int;
  expires_at: Int | null;
  revoked_at: Int | null;
  /** "sha256" (legacy, unsalted) or "hmac" (HMAC-SHA256 with the server secret over the SHA-256). */
  hash_kind: Generated<string>;
}
export interface SitesTable {
  id: string;
  operator_id: string;
  name: string;
  country: string;
  lat: number;
  lon: number;
  power_kw: number;
  pue: number;
  cooling: string;
  node_overhead_w: number;
  carbon_g_per_kwh: number | null;
  created_at: Int;
  default_image: string | null;
  allow_images_json: string;
  deny_images_json: string;
  /** 0 or 1. */
  allow_network: Int;
}
export interface PricesTable {
  site_id: string;
  gpu_model: string;
  on_demand_minor: Int;
  interruptible_minor: Int;
  updated_at: Int;
}
export interface EnrolmentTokensTable {
  token_hash: string;
  site_id: string;
  created_at: Int;
  expires_at: Int;
  used_at: Int | null;
  node_id: string | null;
}
export interface NodesTable {
  id: string;
  site_id: string;
  name: string;
  state: string;
  state_reason: string | null;
  executor: string;
  gpus_json: string;
  driver_version: string | null;
  last_heartbeat_at: Int | null;
  created_at: Int;
  /** The GPU inventory approved for placement (JSON Gpu[]); null until first approved. */
  approved_gpus_json: string | null;
  /** When the reported inventory started to differ from the approved one (null when they agree). */
  inventory_changed_at: Int | null;
  /** The advertised NodeRuntime as JSON; null until an agent advertises one. */
  runtime_json: string | null;
  /** The node on the site's cluster network (JSON NodeCluster); null until stated. */
  cluster_json: string | null;
}
export interface JobsTable {
  id: string;
  tenant_id: string;
  name: string;
  request_json: string;
  spec_json: string;
  state: string;
  state_reason: string | null;
  reasons_json: string;
  submitted_at: Int;
  started_at: Int | null;
  ended_at: Int | null;
  exit_code: Int | null;
}
export interface LeasesTable {
  id: string;
  job_id: string;
  tenant_id: string;
  site_id: string;
  operator_id: string;
  node_id: string;
  country: string;
  gpu_model: string;
  gpu_indices_json: string;
  class: string;
  price_minor: Int;
  currency: string;
  state: string;
  created_at: Int;
  started_at: Int | null;
  ended_at: Int | null;
  stop_reason: string | null;
  stop_requested_at: Int | null;
  stop_deadline_at: Int | null;
  /** Rank of this lease in a multi-node gang (0: the master); null for a one-node job. */
  gang_rank: Int | null;
  gang_size: Int | null;
  /** The gang's rendezvous port on the master's cluster address. */
  gang_port: Int | null;
  /** When the node reported the rank's workload ready to start (start barrier). */
  ready_at: Int | null;
  /** When the control plane released the rank to start (every rank ready). */
  go_at: Int | null;
}
export interface UsageTable {
  node_id: string;
  seq: Int;
  lease_id: string;
  from_ms: Int;
  to_ms: Int;
  gpu_ms: Int;
  energy_milli_wh: Int;
  energy_source: string;
  received_at: Int;
  /** The node's original claim (JSON) when the server clipped or refused it; null when taken as sent. */
  claim_json: string | null;
}
export interface AnomaliesTable {
  id: Generated<Int>;
  at: Int;
  node_id: string;
  operator_id: string;
  lease_id: string | null;
  seq: Int | null;
  kind: string;
  message: string;
  claim_json: string | null;
  accepted_json: string | null;
}
export interface JobEventsTable {
  id: Generated<Int>;
  job_id: string;
  at: Int;
  state: string;
  message: string;
}
export interface LogsTable {
  id: Generated<Int>;
  job_id: string;
  lease_id: string;
  stream: string;
  text: string;
  at: Int;
}
export interface SettingsTable {
  key: string;
  value: string;
}

/** The whole control-plane database as Kysely sees it. */
export interface Database
  extends
    LedgerTables,
    EnergyTables,
    CheckpointTables,
    SecretTables,
    GpuModelTables,
    InstanceTables,
    VolumeTables {
  operators: OperatorsTable;
  tenants: TenantsTable;
  api_keys: ApiKeysTable;
  sites: SitesTable;
  prices: PricesTable;
  enrolment_tokens: EnrolmentTokensTable;
  nodes: NodesTable;
  jobs: JobsTable;
  leases: LeasesTable;
  usage: UsageTable;
  anomalies: AnomaliesTable;
  job_events: JobEventsTable;
  logs: LogsTable;
  settings: SettingsTable;
  leader_terms: LeaderTermsTable;
  audit_log: AuditLogTable;
  view_changes: ViewChangesTable;
}

/** The cluster view's change feed (migration 0019; rows written by triggers). */
export interface ViewChangesTable {
  id: Generated<Int>;
  tbl: string;
  row_id: string;
  at: Int;
}

/** The append-only audit trail (migration 0005). */
export interface AuditLogTable {
  id: Generated<number>;
  at: number;
  key_id: string;
  role: string;
  owner_id: string | null;
  action: string;
  target: string | null;
  status: number;
  source: string;
}

/** The scheduler leader's fencing term (migration 0007). */
export interface LeaderTermsTable {
  name: string;
  term: number;
  holder: string;
  acquired_at: number;
}

export type { ColumnType };
