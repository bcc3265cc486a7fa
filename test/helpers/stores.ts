// The store implementations every conformance suite runs against (ARCHITECTURE.md, "Add a store").
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Store, type LivenessOptions } from "../../src/store/index.js";
import { freshPostgresDb, postgresAvailable } from "./services.js";

export interface StoreFactory {
  name: "sqlite" | "postgres";
  /** Whether the backing service is there (always true for SQLite). */
  available(): Promise<boolean>;
  /** A fresh store; `liveness` batches liveness-only heartbeats (off by default, as in Store.open). */
  open(opts?: {
    liveness?: LivenessOptions;
  }): Promise<{ store: Store; url: string; cleanup: () => Promise<void> }>;
}

export const STORES: StoreFactory[] = [
  {
    name: "sqlite",
    available: () => Promise.resolve(true),
    async open(opts = {}) {
      const dir = mkdtempSync(join(tmpdir(), "zumbido-store-"));
      const path = join(dir, "zumbido.db");
      const store = await Store.open({ kind: "sqlite", path }, opts);
      return {
        store,
        url: `sqlite:${path}`,
        cleanup: async () => {
          await store.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: "postgres",
    available: postgresAvailable,
    async open(opts = {}) {
      const { url, drop } = await freshPostgresDb();
      const store = await Store.open({ kind: "postgres", url }, opts);
      return {
        store,
        url,
        cleanup: async () => {
          await store.close();
          await drop();
        },
      };
    },
  },
];
