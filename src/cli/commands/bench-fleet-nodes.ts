/**
 * The simulated nodes of `zumbido bench fleet`: N 8-GPU nodes that speak the agent protocol the way
 * the real agent does (src/agent/agent.ts): enrol, heartbeat at the interval the server names, hold
 * an orders long-poll (`GET /v1/agent/orders?wait=25s`, like src/agent/orders-poll.ts) and beat at
 * once when it answers with work, run what they are given for 5-20 s, report, send usage.
 */
import { nextHeartbeatWaitMs } from "../../agent/heartbeat-pace.js";
import { Client, Pool } from "undici";

/** The GPUs every simulated node reports. */
export const FLEET_GPUS = Array.from({ length: 8 }, (_, i) => ({
  index: i,
  uuid: `GPU-fleet-${i}`,
  model: "H100",
  name: "NVIDIA H100",
  memoryMb: 81_559,
  powerLimitW: 700,
  healthy: true,
}));

/** How long a simulated node asks the server to hold its orders long-poll, seconds (the agent's). */
const ORDERS_WAIT_S = 25;

interface Running {
  jobId: string;
  gpus: number[];
  startedAt: number;
  endsAt: number;
}

interface WorkloadOut {
  leaseId: string;
  phase: string;
  startedAt?: number;
  endedAt?: number;
  exitCode?: number;
}

interface Orders {
  assignments: { leaseId: string; jobId: string; gpuIndices: number[] }[];
  stops: { leaseId: string }[];
  intervalMs?: number;
  version?: string;
}

/** One simulated node. */
export interface SimNode {
  id: string;
  key: string;
  replica: number;
  running: Map<string, Running>;
  reports: WorkloadOut[];
  usageSeq: number;
  intervalMs: number;
  /** The wait before its next beat (a random part of a new interval, as the agent does). */
  nextWaitMs: number;
  /** Cuts the node's wait for its next beat short (the orders long-poll answered with work). */
  kick: () => void;
  /** A beat is wanted right after the one in flight. */
  again: boolean;
  beating: boolean;
}

/** What the simulated nodes measured. */
export interface NodeFigures {
  /** Heartbeat round trips, ms. */
  hbLat: number[];
  /** Of those, the beats that carried no change (every workload still running, nothing new): renewals only. */
  hbSteadyLat: number[];
  /** The beats that reported a start or an end. */
  hbBusyLat: number[];
  /** Submission to a node acting on the assignment (its heartbeat answer carried it), ms. */
  assignLat: number[];
  assignedJobs: Set<string>;
  /** jobId -> when a node first acted on it (epoch ms). */
  seenAt: Map<string, number>;
  /** Assignments naming a GPU the node was already running something on. */
  nodeConflicts: number;
  usageSent: number;
  /** Usage records no replica acknowledged within a minute of retries (the driver gave up on them). */
  usageUnacked: number;
  serverIntervalMs: number | null;
  /** Orders long-polls answered (with or without orders). */
  ordersAnswered: number;
  /** Orders long-poll answers that carried work. */
  ordersWithWork: number;
  /** Enrolled nodes a second (wall clock of the enrolment phase). */
  enrolPerS: number;
}

/** How the simulation reaches the servers: their current URLs (a restarted replica has a new one). */
export interface NodeFleetOptions {
  /** The servers' base URLs now, by replica index. */
  urls: () => string[];
  /** The nodes' heartbeat interval until the server names one, ms. */
  heartbeatMs: number;
  /** Hold an orders long-poll per node (the real agent does); off: heartbeats carry the orders. */
  ordersPoll: boolean;
  /** Submission time of each job (epoch ms), filled by the tenants' side. */
  submittedAt: Map<string, number>;
  /** Counts a failed request; `measured` false while enrolling and warming up. */
  onError: (measured: boolean) => void;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** N simulated nodes over their own HTTP pools: short requests on a few sockets, long-polls one socket each. */
export class NodeFleet {
  readonly nodes: SimNode[] = [];
  readonly figures: NodeFigures = {
    hbLat: [],
    hbSteadyLat: [],
    hbBusyLat: [],
    assignLat: [],
    assignedJobs: new Set(),
    seenAt: new Map(),
    nodeConflicts: 0,
    usageSent: 0,
    usageUnacked: 0,
    serverIntervalMs: null,
    ordersAnswered: 0,
    ordersWithWork: 0,
    enrolPerS: 0,
  };
  private readonly pools = new Map<string, Pool>();
  /**
   * Each node's long-poll connection per server, its own as the agent's is. Not one pool of 10,000
   * sockets: a pool looks for a free connection by walking its list, which at 10,000 parked polls
   * cost the driver more than the server spent answering.
   */
  private readonly longClients = new Map<SimNode, Map<string, Client>>();
  /**
   * One abort controller per parked long-poll (stop() aborts them). Not one signal shared by all: an
   * AbortSignal's listeners are a list that every add and remove walks, so 10,000 parked polls made
   * each poll cost 10,000 steps twice (the driver, not the server, saturated at 10,000 nodes).
   */
  private readonly polls = new Set<AbortController>();
  private stopped = false;
  private deadline = Number.POSITIVE_INFINITY;
  /** Latencies are recorded (off during the warm-up). */
  private measuring = true;
  /** Each started node's beat and long-poll loops. */
  private readonly loops: Promise<void>[] = [];
  private readonly started = new Set<SimNode>();

  constructor(private readonly o: NodeFleetOptions) {}

  private dispatcher(replica: number, longFor: SimNode | undefined): Pool | Client {
    const urls = this.o.urls();
    const url = urls[replica % urls.length]!;
    if (longFor) {
      let mine = this.longClients.get(longFor);
      if (!mine) this.longClients.set(longFor, (mine = new Map<string, Client>()));
      let c = mine.get(url);
      if (!c) {
        // One socket per node's parked long-poll; held up to the wait plus the server's work.
        c = new Client(url, {
          headersTimeout: (ORDERS_WAIT_S + 10) * 1000,
          bodyTimeout: (ORDERS_WAIT_S + 10) * 1000,
          keepAliveTimeout: 60_000,
        });
        mine.set(url, c);
      }
      return c;
    }
    let p = this.pools.get(url);
    if (!p) {
      // Beats, reports and usage: up to 2,048 sockets (opened as needed), so a slow server queues
      // requests on its side as it would with one agent per node, not in the driver; with the
      // long-polls' one each, 10,000 nodes stay within the ulimit of 20,000. 10 s: the agent's timeout.
      p = new Pool(url, { connections: 2048, headersTimeout: 10_000, keepAliveTimeout: 60_000 });
      this.pools.set(url, p);
    }
    return p;
  }

  private async req<T>(
    replica: number,
    key: string | null,
    method: "GET" | "POST",
    path: string,
    body?: unknown,
    longFor?: SimNode,
  ): Promise<T> {
    const ac = longFor ? new AbortController() : undefined;
    if (ac) {
      if (this.stopped) ac.abort();
      this.polls.add(ac);
    }
    try {
      const r = await this.dispatcher(replica, longFor).request({
        path,
        method,
        headers: {
          ...(key ? { authorization: `Bearer ${key}` } : {}),
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        ...(ac ? { signal: ac.signal } : {}),
      });
      const text = await r.body.text();
      if (r.statusCode >= 300) throw new Error(`${method} ${path}: ${r.statusCode} ${text.slice(0, 200)}`);
      return JSON.parse(text) as T;
    } finally {
      if (ac) this.polls.delete(ac);
    }
  }

  /**
   * Enrols `count` nodes, node n on `siteOf(n)`: `concurrency` at a time, each one an enrolment
   * token (as the operator) and an enrolment (as the node).
   */
  async enrol(
    count: number,
    siteOf: (n: number) => string,
    operatorKey: string,
    progress?: (done: number, perS: number) => void,
    concurrency = 32,
  ): Promise<void> {
    const t0 = performance.now();
    let done = 0;
    const perS = (): number => Math.round(done / Math.max(0.001, (performance.now() - t0) / 1000));
    const ticker = progress ? setInterval(() => progress(done, perS()), 5000) : undefined;
    // Enrolment is not measured; each node starts beating as soon as it is enrolled, as the agent does
    // (a node left silent until the whole fleet is enrolled goes offline and comes back with a full write).
    this.measuring = false;
    const replicas = this.o.urls().length;
    let next = 0;
    const out: SimNode[] = new Array<SimNode>(count);
    const worker = async (): Promise<void> => {
      for (let n = next++; n < count; n = next++) {
        const site = siteOf(n);
        const tok = await this.req<{ token: string }>(
          0,
          operatorKey,
          "POST",
          `/v1/sites/${site}/enrolment-tokens`,
        );
        const e = await this.req<{ key: string; nodeId: string }>(0, null, "POST", "/v1/agent/enrol", {
          token: tok.token,
          name: `fleet-${n}`,
          gpus: FLEET_GPUS,
          executor: "local",
        });
        const node: SimNode = {
          id: e.nodeId,
          key: e.key,
          replica: n % replicas,
          running: new Map(),
          reports: [],
          usageSeq: 0,
          intervalMs: this.o.heartbeatMs,
          nextWaitMs: this.o.heartbeatMs,
          kick: () => undefined,
          again: false,
          beating: false,
        };
        out[n] = node;
        this.startNode(node, 0);
        done++;
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
    } finally {
      clearInterval(ticker);
    }
    this.nodes.push(...out);
    this.figures.enrolPerS = perS();
    progress?.(done, this.figures.enrolPerS);
  }

  /**
   * Starts the nodes not started yet (enrol starts each at once), their first beats and long-polls spread evenly over `spreadMs` (a fleet in
   * steady state has no phase), and resolves after `ms`: a warm-up whose latencies are not measured
   * (first beats read each node's key; the server names its interval).
   */
  async warmUp(spreadMs: number, ms: number): Promise<void> {
    this.measuring = false;
    this.start(spreadMs);
    await sleep(ms);
    this.measuring = true;
  }

  /** Runs every node (starting them if warmUp did not) until `deadline` (epoch ms) or stop(). */
  async run(deadline: number): Promise<void> {
    this.deadline = deadline;
    this.start(this.o.heartbeatMs);
    // At the deadline the parked long-polls are ended too (else the run waits out their 25 s).
    const end = setTimeout(() => this.stop(), Math.max(0, deadline - Date.now()));
    await Promise.all(this.loops).finally(() => clearTimeout(end));
  }

  private start(spreadMs: number): void {
    for (const n of this.nodes) this.startNode(n, spreadMs);
  }

  private startNode(n: SimNode, spreadMs: number): void {
    if (this.started.has(n)) return;
    this.started.add(n);
    this.loops.push(this.live(n, spreadMs));
    if (this.o.ordersPoll) this.loops.push(this.poll(n, spreadMs));
  }

  /** Stops the nodes and ends their parked long-polls. */
  stop(): void {
    this.stopped = true;
    for (const ac of this.polls) ac.abort();
    for (const n of this.nodes) n.kick();
  }

  /** Closes the HTTP pools. */
  async close(): Promise<void> {
    this.stop();
    for (const mine of this.longClients.values())
      for (const c of mine.values()) await c.destroy().catch(() => undefined);
    for (const p of this.pools.values()) {
      await p.close().catch(() => undefined);
    }
  }

  private other(r: number): number {
    return this.o.urls().length === 2 ? 1 - r : r;
  }

  /** A node's beats: its interval after each (as the agent paces them), or at once when kicked. */
  private async live(n: SimNode, spreadMs: number): Promise<void> {
    await this.wait(n, Math.random() * spreadMs);
    while (!this.stopped && Date.now() < this.deadline) {
      await this.beat(n);
      if (n.again) {
        n.again = false;
        continue;
      }
      const ms = n.nextWaitMs;
      n.nextWaitMs = n.intervalMs;
      await this.wait(n, ms);
    }
  }

  /** Waits `ms`, or less when the node is kicked. */
  private wait(n: SimNode, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        n.kick = () => undefined;
        resolve();
      }, ms);
      n.kick = () => {
        clearTimeout(t);
        n.kick = () => undefined;
        resolve();
      };
    });
  }

  /** The node's orders long-poll: when it answers with work, the node beats at once (as the agent does). */
  private async poll(n: SimNode, spreadMs: number): Promise<void> {
    let version: string | undefined;
    let failures = 0;
    await sleep(Math.random() * spreadMs);
    while (!this.stopped && Date.now() < this.deadline) {
      try {
        const q = `wait=${ORDERS_WAIT_S}s${version !== undefined ? `&version=${encodeURIComponent(version)}` : ""}`;
        const r = await this.req<Orders>(n.replica, n.key, "GET", `/v1/agent/orders?${q}`, undefined, n);
        failures = 0;
        this.figures.ordersAnswered++;
        if (!r.version) return; // a server without a cluster view: heartbeats carry the orders
        version = r.version;
        if (r.assignments.length > 0 || r.stops.length > 0) {
          this.figures.ordersWithWork++;
          if (n.beating) n.again = true;
          else n.kick();
        }
      } catch {
        if (this.stopped) return;
        this.o.onError(this.measuring);
        failures++;
        await sleep(Math.min(5000, 250 * 2 ** Math.min(failures, 5)));
      }
    }
  }

  /** One heartbeat: reports what runs and what ended, acts on the answer. */
  private async beat(n: SimNode): Promise<void> {
    const f = this.figures;
    const now = Date.now();
    const workloads = [...n.reports];
    for (const [leaseId, w] of n.running) {
      if (w.endsAt <= now) {
        workloads.push({ leaseId, phase: "succeeded", startedAt: w.startedAt, endedAt: now, exitCode: 0 });
        n.usageSeq++;
        f.usageSent++;
        const rec = {
          nodeId: n.id,
          seq: n.usageSeq,
          leaseId,
          fromMs: w.startedAt,
          toMs: now,
          gpuMs: (now - w.startedAt) * w.gpus.length,
          energyMilliWh: 1,
          energySource: "modelled" as const,
        };
        n.running.delete(leaseId);
        void this.sendUsage(n, rec);
      } else workloads.push({ leaseId, phase: "running", startedAt: w.startedAt });
    }
    // A steady beat reports nothing new: no workload started or ended since the last one.
    const steady = n.reports.length === 0 && workloads.every((w) => w.phase === "running");
    n.reports = [];
    const s = performance.now();
    n.beating = true;
    try {
      const a = await this.req<Orders>(n.replica, n.key, "POST", "/v1/agent/heartbeat", {
        gpus: FLEET_GPUS,
        health: { healthy: true, reasons: [] },
        workloads,
      });
      if (this.measuring) {
        f.hbLat.push(performance.now() - s);
        (steady ? f.hbSteadyLat : f.hbBusyLat).push(performance.now() - s);
      }
      if (a.intervalMs) {
        n.nextWaitMs = nextHeartbeatWaitMs(n.intervalMs, a.intervalMs, Math.random);
        n.intervalMs = f.serverIntervalMs = a.intervalMs;
      }
      for (const x of a.assignments) {
        if (n.running.has(x.leaseId)) continue;
        const busy = new Set([...n.running.values()].flatMap((w) => w.gpus));
        if (x.gpuIndices.some((g) => busy.has(g))) f.nodeConflicts++;
        if (!f.assignedJobs.has(x.jobId)) {
          f.assignedJobs.add(x.jobId);
          f.seenAt.set(x.jobId, Date.now());
          const at = this.o.submittedAt.get(x.jobId);
          if (at !== undefined) f.assignLat.push(Date.now() - at);
        }
        const t = Date.now();
        n.running.set(x.leaseId, {
          jobId: x.jobId,
          gpus: x.gpuIndices,
          startedAt: t,
          endsAt: t + 5000 + Math.random() * 15_000,
        });
        n.reports.push({ leaseId: x.leaseId, phase: "running", startedAt: t });
      }
      for (const x of a.stops) {
        const w = n.running.get(x.leaseId);
        n.running.delete(x.leaseId);
        n.reports.push({
          leaseId: x.leaseId,
          phase: "cancelled",
          endedAt: Date.now(),
          ...(w ? { startedAt: w.startedAt } : {}),
        });
      }
    } catch {
      this.o.onError(this.measuring);
      n.replica = this.other(n.replica);
      n.reports = workloads.filter((w) => w.phase !== "running");
    } finally {
      n.beating = false;
    }
  }

  /** Usage records sent and not yet acknowledged (the agent's outbox keeps them until then). */
  private usageInFlight = 0;

  /** Waits (up to `ms`) until every usage record sent has been acknowledged or given up on. */
  async drainUsage(ms: number): Promise<void> {
    const t0 = Date.now();
    while (this.usageInFlight > 0 && Date.now() - t0 < ms) await sleep(50);
  }

  /** Sends one usage record until a replica acknowledges it (stored), for up to a minute, like the agent's outbox. */
  private async sendUsage(n: SimNode, rec: unknown): Promise<void> {
    this.usageInFlight++;
    const t0 = Date.now();
    try {
      for (let i = 0; ; i++) {
        try {
          await this.req(n.replica, n.key, "POST", "/v1/agent/usage", { records: [rec] });
          return;
        } catch {
          this.o.onError(this.measuring);
          n.replica = this.other(n.replica);
          if (Date.now() - t0 > 60_000) {
            this.figures.usageUnacked++;
            return;
          }
          await sleep(Math.min(2000, 200 * 2 ** Math.min(i, 4)));
        }
      }
    } finally {
      this.usageInFlight--;
    }
  }
}
