import { AccountsRepo } from "./accounts-repo.js";
import { AuditRepo } from "./audit-repo.js";
import { CheckpointsRepo } from "./checkpoints-repo.js";
import { openDb, type Db, type StoreConfig } from "./db.js";
import { FleetRepo } from "./fleet-repo.js";
import { GpuModelsRepo } from "./gpu-models-repo.js";
import { EnergyRepo } from "./energy-repo.js";
import { JobsRepo } from "./jobs-repo.js";
import { LedgerRepo } from "./ledger-repo.js";
import { UsageRepo } from "./usage-repo.js";

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

  private constructor(readonly db: Db) {
    this.accounts = new AccountsRepo(db.kysely);
    this.fleet = new FleetRepo(db.kysely);
    this.jobs = new JobsRepo(db.kysely, db.dialect);
    this.usage = new UsageRepo(db.kysely);
    this.ledger = new LedgerRepo(db.kysely);
    this.energy = new EnergyRepo(db.kysely);
    this.audit = new AuditRepo(db.kysely);
    this.checkpoints = new CheckpointsRepo(db.kysely);
    this.gpuModels = new GpuModelsRepo(db.kysely);
  }

  /** Opens (and migrates) the store. */
  static async open(config: StoreConfig): Promise<Store> {
    return new Store(await openDb(config));
  }

  get dialect(): "sqlite" | "postgres" {
    return this.db.dialect;
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
