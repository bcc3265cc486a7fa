// The store implementations every conformance suite runs against (ARCHITECTURE.md, "Add a store").
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Store } from "../../src/store/index.js";
import { freshPostgresDb, postgresAvailable } from "./services.js";

export interface StoreFactory {
  name: "sqlite" | "postgres";
  /** Whether the backing service is there (always true for SQLite). */
  available(): Promise<boolean>;
  open(): Promise<{ store: Store; url: string; cleanup: () => Promise<void> }>;
}

export const STORES: StoreFactory[] = [
  {
    name: "sqlite",
    available: () => Promise.resolve(true),
    async open() {
      const dir = mkdtempSync(join(tmpdir(), "zumbido-store-"));
      const path = join(dir, "zumbido.db");
      const store = await Store.open({ kind: "sqlite", path });
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
    async open() {
      const { url, drop } = await freshPostgresDb();
      const store = await Store.open({ kind: "postgres", url });
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
