import { AccountsRepo } from "./accounts-repo.js";
import { AuditRepo } from "./audit-repo.js";
import { CheckpointsRepo } from "./checkpoints-repo.js";
import { openDb, type Db, type StoreConfig } from "./db.js";
import { FleetRepo, type LivenessOptions } from "./fleet-repo.js";
import { GpuModelsRepo } from "./gpu-models-repo.js";
import { InstancesRepo } from "./instances-repo.js";
import { EnergyRepo } from "./energy-repo.js";
import { JobsRepo } from "./jobs-repo.js";
import { LedgerRepo } from "./ledger-repo.js";
import { SecretsRepo } from "./secrets-repo.js";
import { UsageRepo } from "./usage-repo.js";
import { ViewRepo } from "./view-repo.js";
import { VolumesRepo } from "./volumes-repo.js";

/** The control plane's repositories over one database (SQLite or PostgreSQL). */
export class Store {
  readonly accounts: AccountsRepo;
  readonly fleet: FleetRepo;
  readonly jobs: JobsRepo;
  readonly usage: UsageRepo;
  readonly ledger: LedgerRepo;
  readonly energy: EnergyRepo;
  readonly audit: AuditRepo;
  readonly checkpoints: CheckpointsRepo;
  readonly gpuModels: GpuModelsRepo;
  readonly secrets: SecretsRepo;
  /** The change feed and by-id re-reads of the scheduler's cluster view. */
  readonly view: ViewRepo;
  readonly volumes: VolumesRepo;
  readonly instances: InstancesRepo;

  private constructor(
    readonly db: Db,
    keySecret?: string,
    liveness?: LivenessOptions,
  ) {
    this.accounts = new AccountsRepo(db.kysely, keySecret);
    this.fleet = new FleetRepo(db.kysely, liveness);
    this.jobs = new JobsRepo(db.kysely, db.dialect);
    this.usage = new UsageRepo(db.kysely);
    this.ledger = new LedgerRepo(db.kysely);
    this.energy = new EnergyRepo(db.kysely);
    this.audit = new AuditRepo(db.kysely);
    this.checkpoints = new CheckpointsRepo(db.kysely);
    this.gpuModels = new GpuModelsRepo(db.kysely);
    this.secrets = new SecretsRepo(db.kysely);
    this.view = new ViewRepo(db.kysely);
    this.volumes = new VolumesRepo(db.kysely);
    this.instances = new InstancesRepo(db.kysely);
  }

  /**
   * Opens (and migrates) the store. `keySecret` is the server secret API keys are HMACed with
   * (ZUMBIDO_KEY_SECRET); legacy plain-SHA-256 key hashes are rewritten as HMACs on open.
   * `liveness` batches liveness-only heartbeat writes (src/store/liveness-batch.ts); off by default.
   */
  static async open(
    config: StoreConfig,
    opts: { keySecret?: string; liveness?: LivenessOptions } = {},
  ): Promise<Store> {
    const store = new Store(await openDb(config), opts.keySecret, opts.liveness);
    await store.accounts.upgradeKeyHashes();
    return store;
  }

  get dialect(): "sqlite" | "postgres" {
    return this.db.dialect;
  }

  /** Writes buffered liveness, then closes the database. */
  async close(): Promise<void> {
    try {
      await this.fleet.closeLiveness();
    } finally {
      try {
        await this.usage.close();
      } finally {
        await this.db.close();
      }
    }
  }
}
