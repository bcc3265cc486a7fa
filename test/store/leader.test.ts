// Several control-plane replicas on one PostgreSQL: exactly one runs the scheduler at a time.
import { describe, expect, it } from "vitest";
import { PgAdvisoryLeadership } from "../../src/control/index.js";
import { PG_BASE_URL, postgresAvailable } from "../helpers/services.js";

const available = await postgresAvailable();

describe.skipIf(!available)("PostgreSQL leadership (advisory lock)", () => {
  it("gives the lock to one replica, and to the next when the leader goes away", async () => {
    const key = 0x5a000000 + Math.floor(Math.random() * 0xffff);
    const a = new PgAdvisoryLeadership(PG_BASE_URL, key);
    const b = new PgAdvisoryLeadership(PG_BASE_URL, key);
    try {
      expect(await a.isLeader()).toBe(true);
      expect(await b.isLeader()).toBe(false);
      expect(await a.isLeader()).toBe(true);
      expect(await b.isLeader()).toBe(false);
      await a.close();
      expect(await b.isLeader()).toBe(true);
      expect(await a.isLeader()).toBe(false);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
