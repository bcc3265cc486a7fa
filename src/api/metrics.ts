import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { CycleReport } from "../control/index.js";

/** Prometheus metrics of one server. */
export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests = new Counter({
    name: "zumbido_http_requests_total",
    help: "HTTP requests by route and status",
    labelNames: ["method", "route", "status"],
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: "zumbido_http_request_duration_seconds",
    help: "HTTP request duration",
    labelNames: ["method", "route"],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });
  readonly cycles = new Counter({
    name: "zumbido_scheduler_cycles_total",
    help: "Scheduling cycles run",
    registers: [this.registry],
  });
  readonly placements = new Counter({
    name: "zumbido_scheduler_placements_total",
    help: "Jobs placed",
    registers: [this.registry],
  });
  readonly preemptions = new Counter({
    name: "zumbido_scheduler_preemptions_total",
    help: "Leases preempted",
    registers: [this.registry],
  });
  readonly pending = new Gauge({
    name: "zumbido_jobs_pending",
    help: "Jobs waiting at the last cycle",
    registers: [this.registry],
  });
  readonly cycleSeconds = new Histogram({
    name: "zumbido_scheduler_cycle_seconds",
    help: "Scheduling cycle phases",
    labelNames: ["phase"],
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
    registers: [this.registry],
  });
  readonly usageRecords = new Counter({
    name: "zumbido_usage_records_total",
    help: "Usage records received",
    labelNames: ["result"],
    registers: [this.registry],
  });

  constructor(defaults = true) {
    if (defaults) collectDefaultMetrics({ register: this.registry, prefix: "zumbido_" });
  }

  /** Records a scheduling cycle. */
  onCycle(r: CycleReport): void {
    this.cycles.inc();
    this.placements.inc(r.placed);
    this.preemptions.inc(r.preempted);
    this.pending.set(r.waiting);
    for (const [phase, ms] of Object.entries(r.phasesMs)) this.cycleSeconds.observe({ phase }, ms / 1000);
  }
}
