import type { Clock, Gpu, NodeCluster } from "../domain/index.js";
import type { Assignment, StopOrder, WorkloadReport } from "../contract/index.js";
import { checkpointDirFor, prepareCheckpointDir, scanCheckpoint, writeNotice } from "./checkpoints.js";
import { CheckpointKeeper } from "./checkpoint-cleanup.js";
import type { CopyOrder } from "./checkpoint-copy.js";
import { ApiClient, ApiError } from "./client.js";
import type { EnergyMeter } from "./energy-model.js";
import type { GpuUtilisation } from "./gpu/utilisation.js";
import type { Executor, WorkloadGang, WorkloadSpec, WorkloadStatus } from "./executor.js";
import { forgetGang, gangWorkload } from "./gang.js";
import { AgentStore } from "./outbox.js";
import { OrdersPoll } from "./orders-poll.js";
import { RelayClient } from "./relay-client.js";
import { serveStream, type StreamTargets } from "./relay-streams.js";
import { realSleep } from "./volume-io.js";
import { mountsFor, VolumeLoop, VolumeWorker } from "./volumes.js";

/** Where the agent's GPUs come from (nvidia-smi on real nodes, a spec when simulated). */
export interface GpuSource {
  discover(): Promise<{ gpus: Gpu[]; driverVersion: string | null }>;
  health(): Promise<{ healthy: boolean; reasons: string[] }>;
}

export interface AgentOptions {
  server: string;
  /** PEM certificate(s) of the private CA that signed the server's TLS certificate. */
  ca?: string;
  /** One-time enrolment token; needed only the first time (the node key is kept in stateDir). */
  token?: string;
  name: string;
  stateDir: string;
  executor: Executor;
  gpus: GpuSource;
  meter: EnergyMeter;
  /** How busy leases' GPUs were (measured GPUs only), reported for instances' --idle-stop. */
  utilisation?: GpuUtilisation;
  clock: Clock;
  heartbeatMs?: number;
  /** Keep the orders long-poll open (default true): assignments and stops arrive without waiting for a beat. */
  ordersPoll?: boolean;
  meterMs?: number;
  usageBatch?: number;
  /** This node on the site's cluster network (address, fabric, switch group), as the operator configured it. */
  cluster?: NodeCluster;
  /** Where the site's storage is mounted on this node (volumes live under it); none: no volumes here. */
  volumeRoot?: string;
  /** How long a checkpoint folder the control plane calls removable is kept, ms (default 1 hour). */
  checkpointKeepMs?: number;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
  /** The relay (tenants' exec and TCP streams into running workloads): where streams open, and the proxy environment. */
  relay?: { targets: StreamTargets; env?: Record<string, string | undefined>; random?: () => number };
}

/** Bounds on the heartbeat interval the server may ask for, ms. */
export const MIN_HEARTBEAT_MS = 250;
/** The slowest heartbeat the agent accepts (well inside the server's offline timeout). */
export const MAX_HEARTBEAT_MS = 5000;

/**
 * The node agent: enrols once, then loops: meter running workloads into the durable outbox,
 * ship usage and logs, heartbeat (report workloads, receive assignments and stops), act on them.
 * If the control plane is unreachable, workloads keep running and everything waits in the outbox.
 */
export class Agent {
  private readonly store: AgentStore;
  private readonly client: ApiClient;
  /** Checkpoint copies' own client: long polls and chunks must not wait behind heartbeats. */
  private readonly copyClient: ApiClient;
  /** Checkpoint copies to and from other nodes, and removal of folders no longer needed. */
  private readonly checkpoints: CheckpointKeeper;
  private nodeId = "";
  /** The node key in use (a newer one in the state folder replaces it after a 401). */
  private key = "";
  private timer: NodeJS.Timeout | undefined;
  private lastMeter = 0;
  private busy: Promise<void> | undefined;
  /** A beat was asked for while one was in flight. */
  private again = false;
  private orders: OrdersPoll | undefined;
  /** The volume relay loop, on a node with a volume root. */
  private readonly volumes: VolumeLoop | undefined;
  /** The heartbeat interval now: the configured one until the server names another. */
  private intervalMs = 1000;
  private stopping = new Set<string>();
  /** Gang ranks prepared and waiting at the start barrier for the control plane's go (not started, not billed). */
  private readonly waiting = new Map<string, Assignment>();
  /** Gang ranks being prepared (image pulled) before they report ready. */
  private readonly preparing = new Set<string>();
  /** Gang ranks whose preparation failed: reported failed once, then forgotten. */
  private readonly refused = new Map<string, { reason: string; cause?: "image-pull" }>();
  private connected: boolean | undefined;
  private healthy = true;
  private gpuCache: { gpus: Gpu[]; driverVersion: string | null } | undefined;
  /** Server time minus this agent's clock (ms), from the heartbeat's serverTime at the round trip's midpoint. */
  private offsetMs: number;
  private relay: RelayClient | undefined;

  constructor(private readonly o: AgentOptions) {
    this.store = new AgentStore(o.stateDir);
    this.client = new ApiClient(o.server, null, 10_000, o.ca ? { ca: o.ca } : {});
    this.offsetMs = Number(this.store.getMeta("clockOffsetMs") ?? 0);
    this.volumes = o.volumeRoot
      ? new VolumeLoop(
          new VolumeWorker(
            this.client,
            o.volumeRoot,
            realSleep,
            () => o.clock.now(),
            (m, f) => this.log(m, f),
          ),
          (m, f) => this.log(m, f),
        )
      : undefined;
    this.copyClient = new ApiClient(o.server, null, 30_000, o.ca ? { ca: o.ca } : {});
    this.checkpoints = new CheckpointKeeper(
      this.copyClient,
      o.stateDir,
      o.checkpointKeepMs ?? 3_600_000,
      (m, f) => this.log(m, f),
    );
  }

  /** Uses a node key for every call to the control plane. */
  private useKey(key: string): void {
    this.client.setToken(key);
    this.copyClient.setToken(key);
  }

  /** The control plane's time now, as this agent estimates it: every time it reports is in server time. */
  serverNow(): number {
    return this.o.clock.now() + this.offsetMs;
  }

  /** The current estimate of (server time - agent clock), in ms. */
  clockOffsetMs(): number {
    return this.offsetMs;
  }

  /** Updates the offset from one heartbeat: sent at t0, answered at t1 (agent clock), stamped serverTime. */
  private measureOffset(t0: number, t1: number, serverTime: number | undefined): void {
    if (typeof serverTime !== "number" || !Number.isFinite(serverTime) || t1 < t0) return;
    const offset = Math.round(serverTime - (t0 + t1) / 2);
    const moved = Math.abs(offset - this.offsetMs);
    this.offsetMs = offset;
    // Persisted (so a restart converts recovered workloads' times) when it moved noticeably.
    if (moved > 50 || this.store.getMeta("clockOffsetMs") === undefined)
      this.store.setMeta("clockOffsetMs", String(offset));
    if (moved > 1000) this.log("clock offset from the control plane", { offsetMs: offset, rttMs: t1 - t0 });
  }

  private log(msg: string, fields?: Record<string, unknown>): void {
    this.o.log?.(msg, fields);
  }

  /** Enrols if needed and restores the view of workloads from before a restart. */
  async init(): Promise<{ nodeId: string }> {
    const key = this.store.getMeta("nodeKey");
    const nodeId = this.store.getMeta("nodeId");
    this.gpuCache = await this.o.gpus.discover();
    if (key && nodeId) {
      this.useKey(key);
      this.key = key;
      this.nodeId = nodeId;
    } else {
      if (!this.o.token)
        throw new Error(
          "this agent is not enrolled yet: pass --token with a one-time token from `zumbido nodes token --site SITE`",
        );
      const r = await this.client.post<{ nodeId: string; key: string; siteId: string }>("/v1/agent/enrol", {
        token: this.o.token,
        name: this.o.name,
        gpus: this.gpuCache.gpus,
        executor: this.o.executor.kind,
        runtime: this.o.executor.runtime,
        driverVersion: this.gpuCache.driverVersion,
        ...(this.o.cluster ? { cluster: this.o.cluster } : {}),
      });
      this.store.setMeta("nodeKey", r.key);
      this.store.setMeta("nodeId", r.nodeId);
      this.store.setMeta("siteId", r.siteId);
      this.useKey(r.key);
      this.key = r.key;
      this.nodeId = r.nodeId;
      this.log("enrolled", { nodeId: r.nodeId, siteId: r.siteId, gpus: this.gpuCache.gpus.length });
    }
    const recovered = await this.o.executor.recover();
    for (const w of recovered) this.observe(w);
    if (recovered.length)
      this.log("recovered workloads", { leases: recovered.map((w) => `${w.leaseId}:${w.phase}`) });
    return { nodeId: this.nodeId };
  }

  /** Starts the loop, and the orders long-poll that runs a beat at once when work is assigned or stopped. */
  start(): void {
    this.intervalMs = this.o.heartbeatMs ?? 1000;
    this.timer = setTimeout(this.run, 0);
    if (this.o.ordersPoll !== false) {
      this.orders = new OrdersPoll(
        this.o.server,
        this.o.ca,
        () => this.key,
        () => this.kick(),
        (m, x) => this.log(m, x),
      );
      this.orders.start();
    }
    if (this.o.relay) {
      const r = this.o.relay;
      this.relay = new RelayClient({
        server: this.o.server,
        ...(this.o.ca ? { ca: this.o.ca } : {}),
        key: () => this.key,
        env: r.env ?? {},
        ...(r.random ? { random: r.random } : {}),
        log: (msg, f) => this.log(msg, f),
        onStream: (st) =>
          serveStream(st, r.targets, (leaseId, jobId) =>
            this.store
              .leases()
              .some(
                (l) => l.leaseId === leaseId && l.jobId === jobId && l.startedAt != null && l.endedAt == null,
              ),
          ),
      });
      this.relay.start();
    }
    this.volumes?.start(
      () => this.timer !== undefined,
      () => this.intervalMs,
    );
  }

  /** One pass over the volume copies this node serves (the loop's step; tests drive it directly). */
  volumePass(): Promise<number> {
    return this.volumes?.pass() ?? Promise.resolve(0);
  }

  /** The relay connection, when the agent runs one. */
  relayClient(): RelayClient | undefined {
    return this.relay;
  }

  private readonly run = (): void => {
    this.busy = this.tick()
      .catch((err: unknown) => this.log("tick failed", { err: (err as Error).message }))
      .finally(() => {
        this.busy = undefined;
        const again = this.again;
        this.again = false;
        if (this.timer !== undefined) this.timer = setTimeout(this.run, again ? 0 : this.intervalMs);
      });
  };

  /** A beat now (the orders long-poll answered with work): after the one in flight, or at once. */
  private kick(): void {
    if (this.timer === undefined) return;
    if (this.busy) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(this.run, 0);
  }

  /** Stops the loop (workloads keep running). */
  async stop(): Promise<void> {
    const t = this.timer;
    this.timer = undefined;
    if (t) clearTimeout(t);
    await this.orders?.stop();
    await this.relay?.stop();
    await this.busy;
    await this.volumes?.stop();
    await this.checkpoints.close();
    await this.o.executor.close();
    await this.client.close();
    await this.copyClient.close();
    this.store.close();
  }

  /** Records what the executor says of a workload in the durable lease table, in server time. */
  private observe(w: WorkloadStatus): void {
    if (!this.store.leases().some((l) => l.leaseId === w.leaseId)) return;
    if (w.startedAt !== undefined)
      this.store.setStarted(w.leaseId, w.startedAt + this.offsetMs, w.gpuIndices);
    if (
      w.endedAt !== undefined &&
      (w.phase === "succeeded" || w.phase === "failed" || w.phase === "cancelled")
    ) {
      this.store.setEnded(w.leaseId, w.endedAt + this.offsetMs);
    }
  }

  /** Leases of instances this process started (their GPU utilisation goes with their reports). */
  private readonly instances = new Set<string>();

  /** An instance's GPU utilisation since its last report, where the GPUs measure it. */
  private utilisationOf(
    leaseId: string,
    phase: WorkloadReport["phase"],
    gpuIndices: number[] | undefined,
  ): { gpuUtilPct?: number } {
    if (phase !== "running" || !gpuIndices || !this.instances.has(leaseId)) return {};
    const pct = this.o.utilisation?.takeMaxPct(gpuIndices);
    return pct === undefined ? {} : { gpuUtilPct: pct };
  }

  /** One round: observe, meter, ship, heartbeat, act. */
  async tick(): Promise<void> {
    const now = this.o.clock.now();
    // 1. Observe workloads.
    const statuses: WorkloadStatus[] = [];
    for (const l of this.store.leases()) {
      const st = await this.o.executor.status(l.leaseId);
      if (st) {
        statuses.push(st);
        this.observe(st);
      }
    }
    // 2. Meter: running leases every meterMs, ended ones once, up to their end. Intervals are in
    // server time (contiguous: each starts where the last ended); the energy meter reads its own clock.
    const meterDue = now - this.lastMeter >= (this.o.meterMs ?? 5000);
    const serverNow = now + this.offsetMs;
    const offset = this.offsetMs;
    for (const l of this.store.leases()) {
      if (l.startedAt == null) continue;
      if (l.endedAt == null && !meterDue) continue;
      const to = l.endedAt ?? serverNow;
      this.store.appendUsage(this.nodeId, l.leaseId, to, (from, until) => ({
        gpuMs: l.gpuIndices.length * (until - from),
        ...this.o.meter.energyMilliWh(
          l.gpuIndices,
          l.gpuModel,
          from - offset,
          until - offset,
          l.gpuPowerW ?? undefined,
        ),
      }));
    }
    if (meterDue) this.lastMeter = now;
    // 3. Logs into the outbox.
    for (const l of this.store.leases()) {
      const chunks = await this.o.executor.drainLogs(l.leaseId);
      if (chunks.length) this.store.appendLogs(chunks);
    }
    // 4. Ship, then heartbeat. Failures leave everything in the outbox for the next round.
    try {
      await this.flush();
      // Start and end as tracked, in server time (converted once, when first observed).
      const tracked = new Map(this.store.leases().map((l) => [l.leaseId, l]));
      const reports: WorkloadReport[] = statuses.map((s) => {
        const t = tracked.get(s.leaseId);
        const startedAt =
          t?.startedAt ?? (s.startedAt !== undefined ? s.startedAt + this.offsetMs : undefined);
        const endedAt = t?.endedAt ?? (s.endedAt !== undefined ? s.endedAt + this.offsetMs : undefined);
        return {
          leaseId: s.leaseId,
          phase: s.phase,
          ...(s.exitCode !== undefined ? { exitCode: s.exitCode } : {}),
          ...(s.signal !== undefined ? { signal: s.signal } : {}),
          ...(s.reason !== undefined ? { reason: s.reason } : {}),
          ...(startedAt != null ? { startedAt } : {}),
          ...(endedAt != null && s.endedAt !== undefined ? { endedAt } : {}),
          ...this.checkpointOf(t?.jobId),
          ...this.utilisationOf(s.leaseId, s.phase, t?.gpuIndices),
        };
      });
      // Gang ranks at the start barrier: prepared, waiting for the others (the server releases them).
      for (const leaseId of this.waiting.keys()) reports.push({ leaseId, phase: "starting", ready: true });
      for (const leaseId of this.preparing) reports.push({ leaseId, phase: "starting" });
      const refusedNow = [...this.refused];
      for (const [leaseId, r] of refusedNow)
        reports.push({ leaseId, phase: "failed", reason: r.reason, ...(r.cause ? { cause: r.cause } : {}) });
      const gpus = this.gpuCache ?? (await this.o.gpus.discover());
      const health = await this.o.gpus.health();
      if (this.healthy && !health.healthy) {
        // The node drains: running work gets the checkpoint notice so it can save its state.
        this.log("node unhealthy: draining and notifying running workloads", { reasons: health.reasons });
        for (const s of statuses.filter((x) => x.phase === "running"))
          await this.o.executor.notify(s.leaseId).catch(() => undefined);
      }
      this.healthy = health.healthy;
      const sentAt = this.o.clock.now();
      const held = this.checkpoints.held(now);
      const res = await this.client.post<{
        assignments: Assignment[];
        stops: StopOrder[];
        serverTime?: number;
        intervalMs?: number;
        transfers?: CopyOrder[];
        removableCheckpoints?: string[];
      }>("/v1/agent/heartbeat", {
        gpus: gpus.gpus,
        driverVersion: gpus.driverVersion,
        runtime: this.o.executor.runtime,
        ...(this.o.cluster ? { cluster: this.o.cluster } : {}),
        health,
        workloads: reports,
        ...(held ? { checkpoints: held } : {}),
      });
      this.measureOffset(sentAt, this.o.clock.now(), res.serverTime);
      if (this.connected !== true) this.log("connected to control plane", { server: this.o.server });
      // The server sets the pace (slower for a large fleet, faster while work starts or stops), within bounds.
      if (typeof res.intervalMs === "number" && Number.isFinite(res.intervalMs))
        this.intervalMs = Math.min(MAX_HEARTBEAT_MS, Math.max(MIN_HEARTBEAT_MS, Math.round(res.intervalMs)));
      this.connected = true;
      for (const [leaseId] of refusedNow) this.refused.delete(leaseId);
      // 5. Forget ended workloads the server has now heard of, once their usage is shipped.
      for (const s of statuses) {
        const ended = s.phase === "succeeded" || s.phase === "failed" || s.phase === "cancelled";
        if (ended && this.store.pendingUsageFor(s.leaseId) === 0) {
          this.store.untrack(s.leaseId);
          this.instances.delete(s.leaseId);
          this.stopping.delete(s.leaseId);
          await this.o.executor.forget?.(s.leaseId);
          forgetGang(this.o.stateDir, s.leaseId);
        }
      }
      // 6. Act: start assignments, stop what must stop.
      for (const a of res.assignments) await this.startAssignment(a);
      for (const s of res.stops) this.stopLease(s);
      // 7. Checkpoint copies this node takes part in; folders no longer needed here are removed.
      this.checkpoints.apply(res.transfers ?? [], res.removableCheckpoints, now, [
        ...this.store.leases().map((l) => l.jobId),
        ...[...this.waiting.values()].map((a) => a.jobId),
      ]);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        // A rotated key installed with `zumbido nodes install-key` is picked up here, without a restart.
        const key = this.store.getMeta("nodeKey");
        if (key && key !== this.key) {
          this.useKey(key);
          this.key = key;
          this.log("the control plane refused the old node key; using the newly installed one");
        } else
          this.log(
            "the control plane refused this node's key; install a rotated key (zumbido nodes install-key) or re-enrol with a new token",
            { detail: err.detail },
          );
      } else if (this.connected !== false) {
        this.log("control plane unreachable; workloads keep running and usage waits in the outbox", {
          err: (err as Error).message,
        });
      }
      this.connected = false;
    }
  }

  private async startAssignment(a: Assignment): Promise<void> {
    if (this.store.leases().some((l) => l.leaseId === a.leaseId) || this.refused.has(a.leaseId)) return;
    const mounts = mountsFor(this.o.executor.runtime, this.o.volumeRoot, a.spec.volumes);
    // Volumes that cannot be mounted: reported failed on the next heartbeat (nothing started).
    if ("problem" in mounts) return void this.refused.set(a.leaseId, { reason: mounts.problem });
    const volumes = mounts.volumes;
    if (a.gang && !a.gang.go) {
      // Start barrier: nothing runs until every rank of the gang is ready; prepare, report ready, wait.
      if (this.waiting.has(a.leaseId) || this.preparing.has(a.leaseId) || this.refused.has(a.leaseId)) return;
      this.preparing.add(a.leaseId);
      const gang = a.gang;
      void (this.o.executor.prepare?.(this.workloadOf(a)) ?? Promise.resolve({}))
        .then((r: { problem?: string; cause?: "image-pull" }) => {
          if (!this.preparing.has(a.leaseId)) return; // stopped meanwhile
          if (r.problem) {
            this.refused.set(a.leaseId, { reason: r.problem, ...(r.cause ? { cause: r.cause } : {}) });
            this.log("gang rank could not be prepared", { leaseId: a.leaseId, reason: r.problem });
          } else {
            this.waiting.set(a.leaseId, a);
            this.log("gang rank ready; waiting for the other ranks", {
              leaseId: a.leaseId,
              nodeRank: gang.nodeRank,
              nnodes: gang.nnodes,
            });
          }
        })
        .catch((err: unknown) => this.refused.set(a.leaseId, { reason: (err as Error).message }))
        .finally(() => this.preparing.delete(a.leaseId));
      return;
    }
    this.waiting.delete(a.leaseId);
    if (a.spec.instance) this.instances.add(a.leaseId);
    this.store.track({
      leaseId: a.leaseId,
      jobId: a.jobId,
      gpuIndices: a.gpuIndices,
      gpuModel: a.gpuModel,
      gpuPowerW: a.gpuPowerW ?? null,
    });
    // The job's checkpoint folder lives in the agent's state, not the lease's: it survives requeues.
    const checkpointDir = checkpointDirFor(this.o.stateDir, a.jobId);
    prepareCheckpointDir(checkpointDir);
    const gang = a.gang ? gangWorkload(this.o.stateDir, a.leaseId, a.gang) : undefined;
    const st = await this.o.executor.start({
      ...this.workloadOf(a, gang, checkpointDir),
      ...(volumes?.length ? { volumes } : {}),
    });
    this.observe(st);
    this.log("started workload", { leaseId: a.leaseId, phase: st.phase, gpus: a.gpuIndices.join(",") });
  }

  /**
   * The workload of an assignment. A gang rank's rendezvous environment goes into the spec (after the
   * tenant's: it wins), so every executor passes it on; the hostfile is exposed by the executors
   * that can mount it.
   */
  private workloadOf(a: Assignment, gang?: WorkloadGang, checkpointDir?: string): WorkloadSpec {
    return {
      leaseId: a.leaseId,
      jobId: a.jobId,
      spec: gang ? { ...a.spec, env: { ...(a.spec.env ?? {}), ...gang.env } } : a.spec,
      gpuModel: a.gpuModel,
      gpuIndices: a.gpuIndices,
      ...(a.image !== undefined ? { image: a.image } : {}),
      network: a.network,
      ...(a.registryAuth !== undefined ? { registryAuth: a.registryAuth } : {}),
      // The agent picks the host folder (never the server): it is under the agent's own state.
      ...(checkpointDir !== undefined ? { checkpointDir } : {}),
      ...(gang ? { gang } : {}),
    };
  }

  /** The checkpoint folder of a job as reported to the server (nothing when it holds no file). */
  private checkpointOf(jobId: string | undefined): { checkpoint?: WorkloadReport["checkpoint"] } {
    if (jobId === undefined) return {};
    const c = scanCheckpoint(checkpointDirFor(this.o.stateDir, jobId));
    return c ? { checkpoint: c } : {};
  }

  private stopLease(s: StopOrder): void {
    // A rank still at the start barrier never started: it is dropped (the server ends its lease).
    if (
      this.waiting.delete(s.leaseId) ||
      this.preparing.delete(s.leaseId) ||
      this.refused.delete(s.leaseId)
    ) {
      this.log("gang rank stopped before its gang started", { leaseId: s.leaseId, reason: s.reason });
      return;
    }
    if (this.stopping.has(s.leaseId)) return;
    this.stopping.add(s.leaseId);
    // The notice file tells the workload why it stops and by when (before the signal it may trap).
    const jobId = this.store.leases().find((l) => l.leaseId === s.leaseId)?.jobId;
    if (jobId !== undefined)
      writeNotice(checkpointDirFor(this.o.stateDir, jobId), s.reason, s.graceS, this.o.clock.now());
    this.log("stopping workload", { leaseId: s.leaseId, reason: s.reason, graceS: s.graceS });
    void this.o.executor.stop(s.leaseId, s.graceS).catch((err: unknown) => {
      this.stopping.delete(s.leaseId);
      this.log("stop failed", { leaseId: s.leaseId, err: (err as Error).message });
    });
  }

  /** Sends the outbox: usage in batches, then logs. */
  async flush(): Promise<{ usage: number }> {
    let sent = 0;
    for (;;) {
      const batch = this.store.pendingUsage(this.o.usageBatch ?? 1000);
      if (batch.length === 0) break;
      const res = await this.client.post<{
        accepted: number;
        duplicates: number;
        clipped?: number;
        conflicts?: { seq: number; message: string }[];
      }>("/v1/agent/usage", { records: batch });
      // The batch is acknowledged: what the server clipped or refused is its record, not a retry.
      if (res.clipped || res.conflicts?.length)
        this.log("the control plane clipped or refused usage records", {
          clipped: res.clipped ?? 0,
          conflicts: res.conflicts?.slice(0, 5),
        });
      this.store.ackUsage(batch.map((r) => r.seq));
      sent += batch.length;
      if (batch.length < (this.o.usageBatch ?? 1000)) break;
    }
    for (;;) {
      const logs = this.store.pendingLogs(200);
      if (logs.length === 0) break;
      try {
        await this.client.post("/v1/agent/logs", {
          chunks: logs.map(({ leaseId, stream, text }) => ({ leaseId, stream, text })),
        });
      } catch (err) {
        // Logs for a lease this node no longer holds are dropped; anything else is retried later.
        if (err instanceof ApiError && err.status === 403) {
          for (const l of logs) this.store.dropLogsFor(l.leaseId);
          continue;
        }
        throw err;
      }
      this.store.ackLogs(logs[logs.length - 1]!.id);
    }
    return { usage: sent };
  }
}
