import type { Clock, Gpu, NodeCluster } from "../domain/index.js";
import type { Assignment, StopOrder, WorkloadReport } from "../contract/index.js";
import { checkpointDirFor, prepareCheckpointDir, writeNotice } from "./checkpoints.js";
import { CheckpointKeeper } from "./checkpoint-cleanup.js";
import type { CopyOrder } from "./checkpoint-copy.js";
import { ApiClient, ApiError } from "./client.js";
import { ClockOffset } from "./clock-offset.js";
import type { EnergyMeter } from "./energy-model.js";
import type { GpuUtilisation } from "./gpu/utilisation.js";
import type { Executor, WorkloadStatus } from "./executor.js";
import { forgetGang, gangWorkload } from "./gang.js";
import { meterLeases } from "./metering.js";
import { AgentStore } from "./outbox.js";
import { shipOutbox } from "./outbox-shipper.js";
import { OrdersPoll } from "./orders-poll.js";
import type { RelayClient } from "./relay-client.js";
import { startRelay, type AgentRelayOptions } from "./relay-wiring.js";
import { nextHeartbeatWaitMs } from "./heartbeat-pace.js";
import { StartBarrier } from "./start-barrier.js";
import { agentVolumeLoop, mountsFor, type VolumeLoop } from "./volumes.js";
import { checkpointOf, reportOf, workloadOf } from "./workload-reports.js";

/** Where the agent's GPUs come from (nvidia-smi on real nodes, a spec when simulated). */
export interface GpuSource {
  discover(): Promise<{ gpus: Gpu[]; driverVersion: string | null }>;
  health(): Promise<{ healthy: boolean; reasons: string[] }>;
}

export interface AgentOptions {
  server: string;
  /** Randomness (heartbeat pacing); Math.random unless a test injects one. */
  random?: () => number;
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
  relay?: AgentRelayOptions;
}

/** Bounds on the heartbeat interval the server may ask for, ms. */
export const MIN_HEARTBEAT_MS = 250;
/**
 * The slowest heartbeat the agent accepts: the server names up to 30 s for a fleet of 15,000 nodes
 * and more, and its offline timeout is then at least three intervals (src/control/heartbeat-policy.ts).
 */
export const MAX_HEARTBEAT_MS = 30_000;

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
  /** The wait before the next beat (heartbeat-pace.ts: a random part of a new interval). */
  private nextWaitMs = 1000;
  private stopping = new Set<string>();
  /** Assignments not started yet: gang ranks at the start barrier, and refusals to report. */
  private readonly barrier = new StartBarrier((m, f) => this.log(m, f));
  private connected: boolean | undefined;
  private healthy = true;
  private gpuCache: { gpus: Gpu[]; driverVersion: string | null } | undefined;
  /** Server time minus this agent's clock (ms), from the heartbeat's serverTime at the round trip's midpoint. */
  private readonly offset: ClockOffset;
  private relay: RelayClient | undefined;

  constructor(private readonly o: AgentOptions) {
    this.store = new AgentStore(o.stateDir);
    this.client = new ApiClient(o.server, null, 10_000, o.ca ? { ca: o.ca } : {});
    this.offset = new ClockOffset(this.store, (m, f) => this.log(m, f));
    this.volumes = o.volumeRoot
      ? agentVolumeLoop(
          this.client,
          o.volumeRoot,
          () => o.clock.now(),
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
    return this.o.clock.now() + this.offset.ms;
  }

  /** The current estimate of (server time - agent clock), in ms. */
  clockOffsetMs(): number {
    return this.offset.ms;
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
    this.intervalMs = this.nextWaitMs = this.o.heartbeatMs ?? 1000;
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
    if (this.o.relay)
      this.relay = startRelay({
        server: this.o.server,
        ca: this.o.ca,
        relay: this.o.relay,
        key: () => this.key,
        store: this.store,
        log: (msg, f) => this.log(msg, f),
      });
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
        if (this.timer !== undefined) this.timer = setTimeout(this.run, again ? 0 : this.nextWaitMs);
        this.nextWaitMs = this.intervalMs;
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
      this.store.setStarted(w.leaseId, w.startedAt + this.offset.ms, w.gpuIndices);
    if (
      w.endedAt !== undefined &&
      (w.phase === "succeeded" || w.phase === "failed" || w.phase === "cancelled")
    ) {
      this.store.setEnded(w.leaseId, w.endedAt + this.offset.ms);
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
    meterLeases(this.store, this.nodeId, this.o.meter, now + this.offset.ms, this.offset.ms, meterDue);
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
        return reportOf(s, t, this.offset.ms, {
          ...checkpointOf(this.o.stateDir, t?.jobId),
          ...this.utilisationOf(s.leaseId, s.phase, t?.gpuIndices),
        });
      });
      // Gang ranks at the start barrier: prepared, waiting for the others (the server releases them).
      const held = this.barrier.reports();
      reports.push(...held.reports);
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
      const checkpoints = this.checkpoints.held(now);
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
        ...(checkpoints ? { checkpoints } : {}),
      });
      this.offset.measure(sentAt, this.o.clock.now(), res.serverTime);
      if (this.connected !== true) this.log("connected to control plane", { server: this.o.server });
      // The server sets the pace (slower for a large fleet, faster while work starts or stops), within bounds.
      if (typeof res.intervalMs === "number" && Number.isFinite(res.intervalMs)) {
        const named = Math.min(MAX_HEARTBEAT_MS, Math.max(MIN_HEARTBEAT_MS, Math.round(res.intervalMs)));
        this.nextWaitMs = nextHeartbeatWaitMs(this.intervalMs, named, this.o.random ?? Math.random);
        this.intervalMs = named;
      }
      this.connected = true;
      this.barrier.forgetRefused(held.refused);
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
        ...this.barrier.waitingJobIds(),
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
    if (this.store.leases().some((l) => l.leaseId === a.leaseId) || this.barrier.isRefused(a.leaseId)) return;
    const mounts = mountsFor(this.o.executor.runtime, this.o.volumeRoot, a.spec.volumes);
    // Volumes that cannot be mounted: reported failed on the next heartbeat (nothing started).
    if ("problem" in mounts) return void this.barrier.refuse(a.leaseId, { reason: mounts.problem });
    const volumes = mounts.volumes;
    if (a.gang && !a.gang.go) {
      // Start barrier: nothing runs until every rank of the gang is ready; prepare, report ready, wait.
      this.barrier.hold(a, a.gang, () => this.o.executor.prepare?.(workloadOf(a)) ?? Promise.resolve({}));
      return;
    }
    this.barrier.release(a.leaseId);
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
      ...workloadOf(a, gang, checkpointDir),
      ...(volumes?.length ? { volumes } : {}),
    });
    this.observe(st);
    this.log("started workload", { leaseId: a.leaseId, phase: st.phase, gpus: a.gpuIndices.join(",") });
  }

  private stopLease(s: StopOrder): void {
    // A rank still at the start barrier never started: it is dropped (the server ends its lease).
    if (this.barrier.drop(s.leaseId)) {
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
  flush(): Promise<{ usage: number }> {
    return shipOutbox(this.client, this.store, this.o.usageBatch ?? 1000, (m, f) => this.log(m, f));
  }
}
