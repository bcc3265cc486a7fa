import { DomainError, invalid, notFound } from "../domain/index.js";
import {
  buildPayoutStatements,
  canAfford,
  chargeTotals,
  decideSpendAll,
  displayBalance,
  hourCostMinor,
  parsePeriod,
  periodBounds,
  tenantAccount,
  topupTransaction,
  vatTreatment,
  type BillableLease,
  type Invoice,
  type PayoutStatement,
  type SpendDecision,
  type SpendPolicy,
  type TenantTaxProfile,
  type Transaction,
} from "../ledger/index.js";
import type { LeaseRecord, TenantRecord } from "../store/index.js";
import { AccountsService } from "./accounts-service.js";
import { ownerOf, requireRole, type Ctx, type Principal } from "./context.js";
import { InvoiceReads, type InvoiceReadOptions } from "./invoice-reads.js";
import { nodeReliability } from "./reliability.js";
import { chargeStorage } from "./storage-billing.js";
import { fundsAndBurns } from "./tenant-funds.js";

/** What one charge run looks at: everything, named leases, or (default) what changed; `active` reuses a read. */
interface ChargeOpts {
  all?: boolean;
  leaseIds?: readonly string[];
  active?: readonly LeaseRecord[];
}

/** What one charge run did. */
export interface ChargeRunSummary {
  at: number;
  /** Whether the run looked at every lease with usage (else only those with recent usage or window changes). */
  full: boolean;
  leases: number;
  /** Transactions written by this run. */
  posted: number;
  /** Transactions another run had already written (same key, same content). */
  duplicates: number;
  /** Keys another run had written with other content (re-checked next run). */
  conflicts: number;
  /** Leases whose usage could not be billed (lease unknown). */
  unbilled: number;
  notes: string[];
}

/** A tenant's money position, for GET /v1/balance. */
export interface TenantBalance {
  tenantId: string;
  currency: string;
  /** Prepaid money left on tenant:<id> (negative when the credit line is in use). */
  balanceMinor: number;
  /** Everything charged for usage so far (gross + VAT, corrections included). */
  spentMinor: number;
  /** Top-ups and refunds received so far. */
  paidInMinor: number;
  creditLimitMinor: number;
  /** balance + credit limit. */
  availableMinor: number;
  runningLeases: number;
  burnMinorPerHour: number;
  /** Whole minutes the available money lasts at the current burn; null when nothing runs. */
  minutesLeft: number | null;
  decision: SpendDecision["decision"];
  reason: string;
}

/** Admission answer for a job's first hour. */
export interface AdmissionDecision {
  ok: boolean;
  tenantId: string;
  firstHourCostMinor: number;
  /** Money left after the running leases' next hour. */
  availableMinor: number;
  reason: string;
}

/** Settings of the ledger service. */
export interface LedgerServiceOptions {
  /** Notice and stop thresholds (minutes of burn left). */
  spend?: SpendPolicy;
  /** Leases whose window changed this long before the previous run are looked at again (late usage, clock skew). */
  marginMs?: number;
  /** Every n-th periodic run looks at every lease with usage. */
  fullEvery?: number;
  /** The invoice cache. */
  invoices?: InvoiceReadOptions;
}

/** Largest top-up accepted in one request, minor units (10 billion in major units). */
export const MAX_TOPUP_MINOR = 1_000_000_000_000;
/** No account's balance may pass this (minor units), so every ledger sum stays a safe integer. */
export const ACCOUNT_LIMIT_MINOR = 1_000_000_000_000_000;

/**
 * The product's billing: turns stored usage into ledger transactions (chargeTotals), and serves
 * balances, top-ups, invoices, payout statements, month closing, spend decisions and admission.
 *
 * Crash safety: a run reads the ledger and the usage sums, computes per-line deltas and appends them
 * in ONE database transaction under unique idempotency keys (`usage-charge:<lease>:<usage month>:
 * <billing month>:<n>`). A crash before the commit leaves nothing (the next run recomputes); a crash
 * after leaves the deltas (the next run computes zero). Two runs racing from the same state write
 * the same keys; the store keeps the first.
 */
export class LedgerService {
  private queue: Promise<unknown> = Promise.resolve();
  private pending: Promise<ChargeRunSummary> | undefined;
  private readonly reads: InvoiceReads;
  private lastRunStart: number | null = null;
  private retry = new Set<string>();
  /** Leases active at the previous run: one that ended since is charged again, whatever its end time says. */
  private wasActive = new Set<string>();
  private runs = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly spend: SpendPolicy;
  private readonly marginMs: number;
  private readonly fullEvery: number;

  constructor(
    private readonly ctx: Ctx,
    private readonly accounts: AccountsService = new AccountsService(ctx),
    opts: LedgerServiceOptions = {},
  ) {
    this.spend = opts.spend ?? { noticeMinutes: 60, stopMinutes: 1 };
    this.marginMs = opts.marginMs ?? 5 * 60_000;
    this.fullEvery = opts.fullEvery ?? 360;
    this.reads = new InvoiceReads(ctx, () => this.catchUp(), opts.invoices);
  }

  /** Invoices built so far (cache misses), for tests and the benchmark. */
  get invoiceBuilds(): number {
    return this.reads.builds;
  }

  /** Runs charge() every intervalMs until stop(). */
  start(intervalMs: number): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.runs += 1;
      this.charge({ all: this.runs % this.fullEvery === 0 }).catch(() => undefined);
    }, intervalMs);
    this.timer.unref();
  }

  /** Stops the periodic runs and waits for the one in flight. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.queue.catch(() => undefined);
  }

  /**
   * One charge run (runs never overlap in this process): aggregates usage per lease and month in
   * SQL (records clipped to each lease's billing window), computes the deltas and appends them.
   * `all` looks at every lease with usage; otherwise the active leases, those whose billing window
   * changed (stop asked, ended) or that received usage since the previous run less a margin, those
   * active at the previous run, and those a previous run must retry. The periodic full run and month closing look at everything
   * again; payout statements charge the month's leases first.
   */
  charge(opts: ChargeOpts = {}): Promise<ChargeRunSummary> {
    const run = this.queue.then(() => this.chargeOnce(opts));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * An incremental charge run shared by every caller that asks before it starts (reads that want the
   * ledger up to date with the usage received so far, without one run each).
   */
  catchUp(): Promise<ChargeRunSummary> {
    if (this.pending) return this.pending;
    const run = this.queue.then(() => {
      this.pending = undefined;
      return this.chargeOnce({});
    });
    this.pending = run;
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async chargeOnce(opts: ChargeOpts): Promise<ChargeRunSummary> {
    const { store } = this.ctx;
    const at = this.ctx.clock.now();
    const full = opts.leaseIds === undefined && (opts.all === true || this.lastRunStart === null);
    let ids: string[];
    const active = opts.leaseIds ? [] : (opts.active ?? (await store.jobs.activeLeases()));
    if (opts.leaseIds) ids = [...new Set(opts.leaseIds)].sort();
    else if (full) ids = await store.usage.leasesWithUsage();
    else {
      const since = (this.lastRunStart ?? 0) - this.marginMs;
      const live = active.filter((l) => l.startedAt != null).map((l) => l.id);
      // An ended lease's end time can lie before `since` (the end of a node's last report): catch those too.
      const set = new Set([
        ...live,
        ...this.wasActive,
        ...(await store.usage.leasesWindowChangedSince(since)),
        ...(await store.usage.leasesReceivedSince(since)),
        ...this.retry,
      ]);
      ids = [...set].sort();
    }
    const summary: ChargeRunSummary = {
      at,
      full,
      leases: ids.length,
      posted: 0,
      duplicates: 0,
      conflicts: 0,
      unbilled: 0,
      notes: [],
    };
    if (ids.length > 0) {
      const totals = await store.usage.monthTotals(ids);
      const leaseRows = await store.jobs.leasesByIds(ids);
      const ledger = await store.ledger.transactions({ leaseIds: ids });
      const closedPeriods = await store.ledger.closedPeriods();
      const feeBps = await this.accounts.getFeeBps();
      const lockedFees = new Map<string, number>();
      for (const t of ledger)
        if (t.line && !lockedFees.has(t.line.leaseId)) lockedFees.set(t.line.leaseId, t.line.feeBps);
      const tenants = await this.taxProfiles(new Set(leaseRows.map((l) => l.tenantId)));
      const result = chargeTotals({
        ledger,
        leases: leaseRows.map((l) => billable(l, lockedFees)),
        tenants,
        config: { feeBps, closedPeriods },
        totals: totals.map((t) => ({
          leaseId: t.leaseId,
          usagePeriod: t.usagePeriod,
          gpuMs: t.gpuMs,
          energyMilliWh: t.energyMilliWh,
          records: t.records,
        })),
        at,
      });
      const appended = await store.ledger.append(result.transactions);
      const conflicted = new Set(appended.conflicts);
      const retry = new Set<string>(result.unbilled.map((u) => u.leaseId));
      for (const t of result.transactions) if (conflicted.has(t.id) && t.line) retry.add(t.line.leaseId);
      if (!opts.leaseIds) this.retry = retry;
      else for (const id of retry) this.retry.add(id);
      Object.assign(summary, {
        posted: appended.appended.length,
        duplicates: appended.duplicates.length,
        conflicts: appended.conflicts.length,
        unbilled: result.unbilled.length,
        notes: result.notes,
      });
    }
    if (!opts.leaseIds) {
      // Storage (volumes) is charged by the hour on every periodic or full run.
      const st = await chargeStorage(
        this.ctx,
        at,
        { feeBps: await this.accounts.getFeeBps(), closedPeriods: await store.ledger.closedPeriods() },
        (ids) => this.taxProfiles(ids),
      );
      summary.posted += st.posted;
      summary.duplicates += st.duplicates;
      summary.conflicts += st.conflicts;
      this.lastRunStart = at;
      this.wasActive = new Set(active.map((l) => l.id));
    }
    return summary;
  }

  /** Charges the leases that started before the end of a month and pass the filter (late usage included). */
  private async chargeMonth(month: string, pick: (l: LeaseRecord) => boolean): Promise<void> {
    const { endMs } = periodBounds(month);
    const leases = (await this.ctx.store.jobs.leasesOverlapping(0, endMs)).filter(pick);
    await this.charge({ leaseIds: leases.map((l) => l.id) });
  }

  private async taxProfiles(ids: Set<string>): Promise<TenantTaxProfile[]> {
    const out: TenantTaxProfile[] = [];
    for (const id of ids) {
      const t = await this.ctx.store.accounts.getTenant(id);
      if (t) out.push({ tenantId: t.id, country: t.country, vatId: t.vatId });
    }
    return out;
  }

  private tenantOf(p: Principal, tenantId: string | undefined, what: string): string {
    if (p.role === "tenant") {
      if (tenantId && tenantId !== p.ownerId)
        throw new DomainError("forbidden", `a tenant can only read its own ${what}`);
      return ownerOf(p);
    }
    requireRole(p, "admin");
    if (!tenantId) throw invalid(`name the tenant whose ${what} you want: tenantId`, { field: "tenantId" });
    return tenantId;
  }

  private async tenant(id: string): Promise<TenantRecord> {
    const t = await this.ctx.store.accounts.getTenant(id);
    if (!t) throw notFound("tenant", id);
    return t;
  }

  /**
   * A tenant's invoice for a month in one currency (default: the marketplace's), served from what the
   * charge runs posted: an incremental run first (shared by concurrent callers) picks up usage received
   * since the last one, then the invoice comes from the cache unless something new was posted.
   */
  async invoice(
    p: Principal,
    month: string,
    opts: { tenantId?: string; currency?: string } = {},
  ): Promise<Invoice> {
    const tid = this.tenantOf(p, opts.tenantId, "invoices");
    parsePeriod(month, "month");
    const tenant = await this.tenant(tid);
    return this.reads.invoice(tenant, month, opts.currency ?? this.ctx.config.currency);
  }

  /**
   * The invoice as it was built before invoices were served from the charge runs' state: charges
   * every lease of the tenant up to the month's end, then meters each job on its own. Kept as the
   * reference that tests and the benchmark compare invoice() with; no route serves it.
   */
  async invoiceReference(
    p: Principal,
    month: string,
    opts: { tenantId?: string; currency?: string } = {},
  ): Promise<Invoice> {
    const tid = this.tenantOf(p, opts.tenantId, "invoices");
    parsePeriod(month, "month");
    const tenant = await this.tenant(tid);
    await this.chargeMonth(month, (l) => l.tenantId === tid);
    return this.reads.build(tenant, month, opts.currency ?? this.ctx.config.currency, "per-job");
  }

  /** An operator's payout statement for a month (admin names the operator). */
  async payout(
    p: Principal,
    month: string,
    opts: { operatorId?: string; currency?: string } = {},
  ): Promise<PayoutStatement> {
    let oid: string;
    if (p.role === "operator") {
      if (opts.operatorId && opts.operatorId !== p.ownerId)
        throw new DomainError("forbidden", "an operator can only read its own payout statements");
      oid = ownerOf(p);
    } else {
      requireRole(p, "admin");
      if (!opts.operatorId)
        throw invalid("name the operator whose statement you want: operatorId", { field: "operatorId" });
      oid = opts.operatorId;
    }
    parsePeriod(month, "month");
    if (!(await this.ctx.store.accounts.getOperator(oid))) throw notFound("operator", oid);
    await this.chargeMonth(month, (l) => l.operatorId === oid);
    const currency = opts.currency ?? this.ctx.config.currency;
    const transactions = await this.ctx.store.ledger.transactions({ operatorId: oid, billingPeriod: month });
    const st = buildPayoutStatements({ transactions, operatorId: oid, period: month }).find(
      (s) => s.currency === currency,
    );
    // The anomaly count and reliability of each node this month go on the statement.
    const nodes = await nodeReliability(this.ctx, month, oid);
    return {
      ...(st ?? {
        operatorId: oid,
        period: month,
        currency,
        rows: [],
        totals: { gpuSeconds: 0, grossMinor: 0, feeMinor: 0, netMinor: 0 },
      }),
      nodes,
    };
  }

  /** Admin: credits a tenant's prepaid account; idempotent on idempotencyKey. */
  async topup(
    p: Principal,
    tenantId: string,
    input: { amountMinor: number; idempotencyKey?: string; via?: string; memo?: string },
  ): Promise<{ transaction: Transaction; appended: boolean; balanceMinor: number }> {
    requireRole(p, "admin");
    await this.tenant(tenantId);
    const key = input.idempotencyKey ?? this.ctx.ids("topup");
    if (!/^[A-Za-z0-9._:-]{1,100}$/.test(key))
      throw invalid("idempotencyKey must be 1 to 100 letters, digits or . _ : -", {
        field: "idempotencyKey",
      });
    const tx = topupTransaction({
      id: `topup:${tenantId}:${key}`,
      idempotencyKey: `topup:${tenantId}:${key}`,
      at: this.ctx.clock.now(),
      tenantId,
      amountMinor: input.amountMinor,
      currency: this.ctx.config.currency,
      ...(input.via ? { via: input.via } : {}),
      ...(input.memo ? { memo: input.memo } : {}),
    });
    if (!(await this.ctx.store.ledger.byIdempotencyKey(tx.idempotencyKey))) await this.checkHeadroom(tx);
    const r = await this.ctx.store.ledger.appendOne(tx);
    return {
      transaction: r.transaction,
      appended: r.appended,
      balanceMinor: await this.balanceMinor(tenantId),
    };
  }

  /** Refuses a transaction that would take an account past ±ACCOUNT_LIMIT_MINOR (sums must stay exact). */
  private async checkHeadroom(tx: Transaction): Promise<void> {
    const raw = new Map(
      (await this.ctx.store.ledger.balances(tx.postings.map((x) => x.account))).map((b) => [
        `${b.account}|${b.currency}`,
        b.rawMinor,
      ]),
    );
    for (const x of tx.postings) {
      const after = (raw.get(`${x.account}|${x.currency}`) ?? 0) + x.amountMinor;
      if (Math.abs(after) > ACCOUNT_LIMIT_MINOR)
        throw invalid(
          `this would take account ${x.account} to ${after} minor units, past the ledger's limit of ${ACCOUNT_LIMIT_MINOR}; send a smaller amount`,
          { field: "amountMinor" },
        );
    }
  }

  private async balanceMinor(tenantId: string): Promise<number> {
    const acc = tenantAccount(tenantId);
    const b = (await this.ctx.store.ledger.balances([acc])).find(
      (x) => x.currency === this.ctx.config.currency,
    );
    return displayBalance(acc, b?.rawMinor ?? 0);
  }

  /** Admin: closes a month that has ended, after charging every lease; late usage then goes to the next open month. */
  async closeMonth(
    p: Principal,
    month: string,
  ): Promise<{ period: string; closed: boolean; alreadyClosed: boolean; charge: ChargeRunSummary }> {
    requireRole(p, "admin");
    parsePeriod(month, "month");
    const now = this.ctx.clock.now();
    if (periodBounds(month).endMs > now)
      throw new DomainError(
        "invalid-state",
        `${month} has not ended yet; a month can be closed from its last day's midnight (UTC) on`,
        { field: "month" },
      );
    const charge = await this.charge({ all: true });
    const closed = await this.ctx.store.ledger.closePeriod(month, now, p.keyId);
    return { period: month, closed, alreadyClosed: !closed, charge };
  }

  /** Admin: every account's balance (raw: debit positive; balanceMinor: as people read it) and the trial balance. */
  async balances(p: Principal): Promise<{
    accounts: { account: string; currency: string; rawMinor: number; balanceMinor: number }[];
    trialBalance: { currency: string; sumMinor: number }[];
  }> {
    requireRole(p, "admin");
    const rows = await this.ctx.store.ledger.balances();
    return {
      accounts: rows.map((r) => ({ ...r, balanceMinor: displayBalance(r.account, r.rawMinor) })),
      trialBalance: await this.ctx.store.ledger.trialBalance(),
    };
  }

  /**
   * Spend-limit decisions for every tenant with live leases (charging fresh usage first): `notice`
   * lists the leases to warn, `stop` the leases to stop. The scheduling loop acts on them.
   */
  async spendDecisions(): Promise<SpendDecision[]> {
    // One read of the active leases serves the charge run and the funds (the loop's read budget).
    const active = await this.ctx.store.jobs.activeLeases();
    await this.charge({ active });
    const { funds, burns } = await fundsAndBurns(this.ctx, undefined, active);
    return decideSpendAll(
      funds.filter((f) => burns.has(f.tenantId)),
      burns,
      this.spend,
    );
  }

  /** Whether a tenant can pay for a new job's first hour after its running leases' next hour. */
  async canAdmit(tenantId: string, firstHourCostMinor: number): Promise<AdmissionDecision> {
    const { funds, burns } = await fundsAndBurns(this.ctx, [tenantId]);
    const f = funds.find((x) => x.tenantId === tenantId);
    if (!f) throw notFound("tenant", tenantId);
    const running = (burns.get(tenantId) ?? []).reduce((s, b) => s + hourCostMinor(b), 0);
    const available = f.balanceMinor + (f.creditLimitMinor ?? 0) - running;
    const ok = canAfford(firstHourCostMinor, available);
    return {
      ok,
      tenantId,
      firstHourCostMinor,
      availableMinor: available,
      reason: ok
        ? "the first hour is covered"
        : `the first hour costs ${firstHourCostMinor} minor units but only ${available} are available after running jobs' next hour; top up or raise the credit limit`,
    };
  }

  /** One hour of `gpus` GPUs at a price, with the VAT this tenant pays at a site in `siteCountry`. */
  async firstHourCostMinor(
    tenantId: string,
    gpus: number,
    priceMinorPerGpuHour: number,
    siteCountry: string,
  ): Promise<number> {
    const t = await this.tenant(tenantId);
    const vat = vatTreatment({ siteCountry, tenantCountry: t.country, tenantVatId: t.vatId });
    return hourCostMinor({ gpus, priceMinorPerGpuHour, vatRateBps: vat.rateBps });
  }

  /** A tenant's money position (what GET /v1/balance should return). */
  async tenantBalance(p: Principal, tenantId?: string): Promise<TenantBalance> {
    const tid = this.tenantOf(p, tenantId, "balance");
    await this.tenant(tid);
    await this.charge();
    const { funds, burns } = await fundsAndBurns(this.ctx, [tid]);
    const f = funds[0]!;
    const running = burns.get(tid) ?? [];
    const [d] = decideSpendAll([f], burns, this.spend);
    const acc = tenantAccount(tid);
    const currency = this.ctx.config.currency;
    const spent = await this.ctx.store.ledger.accountSum(acc, currency, ["usage-charge", "correction"]);
    const paidIn = -(await this.ctx.store.ledger.accountSum(acc, currency, [
      "topup",
      "refund",
      "adjustment",
    ]));
    return {
      tenantId: tid,
      currency,
      balanceMinor: f.balanceMinor,
      spentMinor: spent,
      paidInMinor: paidIn,
      creditLimitMinor: f.creditLimitMinor ?? 0,
      availableMinor: d!.availableMinor,
      runningLeases: running.length,
      burnMinorPerHour: d!.burnMinorPerHour,
      minutesLeft: d!.minutesLeft,
      decision: d!.decision,
      reason: d!.reason,
    };
  }
}

/** The lease as billing sees it; the fee is locked by the first charge posted for the lease. */
function billable(l: LeaseRecord, lockedFees: ReadonlyMap<string, number>): BillableLease {
  const feeBps = lockedFees.get(l.id);
  return {
    id: l.id,
    jobId: l.jobId,
    tenantId: l.tenantId,
    operatorId: l.operatorId,
    siteId: l.siteId,
    country: l.country,
    gpuModel: l.gpuModel,
    class: l.class,
    priceMinorPerGpuHour: l.priceMinorPerGpuHour,
    currency: l.currency,
    ...(feeBps !== undefined ? { feeBps } : {}),
  };
}

const services = new WeakMap<Ctx, LedgerService>();

/** The one LedgerService of a control-plane context (shared by the billing routes and the loop). */
export function ledgerServiceFor(ctx: Ctx): LedgerService {
  let s = services.get(ctx);
  if (!s) {
    s = new LedgerService(ctx);
    services.set(ctx, s);
  }
  return s;
}
