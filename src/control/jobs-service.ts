import type { Job, JobRequest, JobSpec } from "../domain/index.js";
import {
  DomainError,
  findGpuModel,
  IDLE_INIT,
  invalid,
  isKnownCountry,
  notFound,
  TERMINAL_JOB_STATES,
  inJurisdiction,
  type VolumeMountRequest,
} from "../domain/index.js";
import type { JobEvent, LeaseRecord, LogLine } from "../store/index.js";
import { chargeForLease, type LeaseCharge } from "./billing.js";
import { ownerOf, requireRole, type Ctx, type Principal } from "./context.js";
import { loadGpuCatalogue } from "./gpu-models-service.js";
import { SecretsService } from "./secrets-service.js";
import { VolumesService } from "./volumes-service.js";
import { InstancesService, type InstanceInput } from "./instances-service.js";

/** A job with what a tenant wants to see about it. */
export interface JobView extends Job {
  leases: LeaseRecord[];
  usage: { gpuSeconds: number; costMinor: number; energyWh: number; currency: string; lines: LeaseCharge[] };
  /** Where the job's code, logs and outputs have been (sovereignty). */
  placements: {
    siteId: string;
    siteName: string;
    country: string;
    nodeId: string;
    from: number | null;
    to: number | null;
  }[];
  /** Where the job's latest checkpoint is, as its node last reported it (absent: none seen). */
  checkpoint?: {
    nodeId: string;
    siteId: string;
    country: string;
    sizeBytes: number;
    files: number;
    savedAt: number;
  };
}

/** Jobs as tenants see them. */
export class JobsService {
  constructor(private readonly ctx: Ctx) {}

  /**
   * Submits a job. `secretEnv` values are sealed and stored apart from the job (its spec keeps their
   * names); `spec.registrySecret` must name one of the tenant's registry secrets.
   */
  async submit(
    p: Principal,
    input: {
      name?: string;
      request: JobRequest;
      spec: JobSpec;
      secretEnv?: Record<string, string>;
      volumes?: VolumeMountRequest[];
      /** Set for an interactive instance (`kind: "instance"`): ports and guardrails. */
      instance?: InstanceInput;
    },
  ): Promise<Job> {
    requireRole(p, "tenant");
    const tenantId = ownerOf(p);
    // The view's catalogue when it holds this process's writes to it (no read), else the store's.
    const catalogue = this.ctx.view?.currentCatalogue() ?? (await loadGpuCatalogue(this.ctx.store));
    let request = normaliseRequest(input.request, catalogue.find);
    // Volumes pin the job to their site (a volume's bytes never leave it).
    const mounts = await new VolumesService(this.ctx).forJob(tenantId, input.volumes ?? [], request, (c) =>
      siteCountryAllowed(request, c),
    );
    if (mounts) request = { ...request, sites: [mounts.siteId] };
    if (input.instance) input = { ...input, spec: await this.instanceSpec(tenantId, input) };
    if (input.spec.command.length === 0 || input.spec.command[0] === "")
      throw invalid("command is empty: give the program and its arguments, e.g. -- python train.py", {
        field: "spec.command",
      });
    const id = this.ctx.ids("job");
    const { spec, rows } = await new SecretsService(this.ctx).sealForJob(
      tenantId,
      id,
      mounts ? { ...input.spec, volumes: mounts.volumes } : input.spec,
      input.secretEnv,
    );
    const job: Job = {
      id,
      tenantId,
      name:
        input.name ??
        (input.spec.instance
          ? `instance of ${input.spec.image ?? "the site's image"}`.slice(0, 60)
          : input.spec.command.join(" ").slice(0, 60)),
      request,
      spec,
      state: "pending",
      stateReason: "waiting for the scheduler",
      reasons: [],
      submittedAt: this.ctx.clock.now(),
    };
    await this.ctx.store.jobs.createJob(job, rows);
    this.ctx.nudge();
    return job;
  }

  /** An instance's spec: one node only; no command runs the idle init; ports and guardrails checked. */
  private async instanceSpec(
    tenantId: string,
    input: { request: JobRequest; spec: JobSpec; instance?: InstanceInput },
  ): Promise<JobSpec> {
    const { request: r, spec } = input;
    if (r.gpusPerNode !== undefined && r.gpusPerNode < r.gpus)
      throw invalid("an instance runs on one node: leave out gpusPerNode (or make it equal to gpus)", {
        field: "request.gpusPerNode",
      });
    const instance = await new InstancesService(this.ctx).specFor(tenantId, input.instance ?? {});
    const idle = spec.command.length === 0;
    return {
      ...spec,
      ...(idle ? { command: [...IDLE_INIT], shell: false } : {}),
      instance,
    };
  }

  private async visibleJob(p: Principal, jobId: string): Promise<Job> {
    const job = await this.ctx.store.jobs.getJob(jobId);
    if (!job) throw notFound("job", jobId);
    if (p.role === "admin") return job;
    if (p.role === "tenant" && job.tenantId === p.ownerId) return job;
    if (p.role === "operator") {
      const leases = await this.ctx.store.jobs.leasesForJob(jobId);
      if (leases.some((l) => l.operatorId === p.ownerId)) return job;
    }
    // Same answer whether the job exists or not: no probing other tenants' ids.
    throw notFound("job", jobId);
  }

  async list(p: Principal, limit = 200): Promise<Job[]> {
    if (p.role === "tenant") return this.ctx.store.jobs.listJobs({ tenantId: ownerOf(p), limit });
    requireRole(p, "admin");
    return this.ctx.store.jobs.listJobs({ limit });
  }

  async get(p: Principal, jobId: string): Promise<JobView> {
    const job = await this.visibleJob(p, jobId);
    const leases = await this.ctx.store.jobs.leasesForJob(jobId);
    const records = await this.ctx.store.usage.forLeases(leases.map((l) => l.id));
    const lines = leases.map((l) => chargeForLease(l, records));
    const ckpt = await this.ctx.store.checkpoints.getCheckpoint(jobId);
    const siteNames = new Map<string, string>();
    for (const id of new Set(leases.map((l) => l.siteId)))
      siteNames.set(id, (await this.ctx.store.fleet.getSite(id))?.name ?? id);
    return {
      ...redactSpecFor(p, job),
      leases,
      usage: {
        gpuSeconds: lines.reduce((a, l) => a + l.gpuSeconds, 0),
        costMinor: lines.reduce((a, l) => a + l.costMinor, 0),
        energyWh: Math.round(lines.reduce((a, l) => a + l.energyWh, 0) * 1000) / 1000,
        currency: this.ctx.config.currency,
        lines,
      },
      placements: leases.map((l) => ({
        siteId: l.siteId,
        siteName: siteNames.get(l.siteId) ?? l.siteId,
        country: l.country,
        nodeId: l.nodeId,
        from: l.startedAt ?? null,
        to: l.endedAt ?? null,
      })),
      ...(ckpt
        ? {
            checkpoint: {
              nodeId: ckpt.nodeId,
              siteId: ckpt.siteId,
              country: ckpt.country,
              sizeBytes: ckpt.sizeBytes,
              files: ckpt.files,
              savedAt: ckpt.savedAt,
            },
          }
        : {}),
    };
  }

  async events(p: Principal, jobId: string): Promise<JobEvent[]> {
    await this.visibleJob(p, jobId);
    return this.ctx.store.jobs.events(jobId);
  }

  async logs(p: Principal, jobId: string, afterId: number): Promise<LogLine[]> {
    await this.visibleJob(p, jobId);
    return this.ctx.store.jobs.logs(jobId, afterId);
  }

  /** Cancels a job: a pending job ends now; a placed one gets a stop with the grace period, billing stops now. */
  async cancel(p: Principal, jobId: string): Promise<Job> {
    const job = await this.visibleJob(p, jobId);
    if (p.role !== "admin" && !(p.role === "tenant" && job.tenantId === p.ownerId))
      throw new DomainError("forbidden", "only the job's tenant or an admin may cancel it");
    if (TERMINAL_JOB_STATES.has(job.state))
      throw new DomainError("invalid-state", `job ${jobId} already ended (${job.state}); nothing to cancel`);
    const now = this.ctx.clock.now();
    if (
      await this.ctx.store.jobs.transitionJob(
        jobId,
        ["pending", "preempted"],
        "cancelled",
        now,
        "cancelled before it started",
        { endedAt: now },
      )
    ) {
      await this.ctx.store.checkpoints.release(jobId);
      return (await this.ctx.store.jobs.getJob(jobId))!;
    }
    const leases = await this.ctx.store.jobs.leasesForJob(jobId);
    const deadline = now + (job.spec.gracePeriodS ?? this.ctx.config.stopGraceS) * 1000;
    for (const l of leases) {
      // A lease already stopping (e.g. preempted) now stops for the cancel: the job is not requeued.
      if (l.state === "stopping")
        await this.ctx.store.jobs.restateLeaseStop(l.id, "cancelled by tenant", deadline);
      else await this.ctx.store.jobs.requestLeaseStop(l.id, "cancelled by tenant", now, deadline);
    }
    // A lease whose workload never started ends now: there is no workload to wait for.
    for (const l of leases.filter((x) => x.state !== "ended" && x.startedAt === null)) {
      await this.ctx.store.jobs.endLease(l.id, now);
    }
    await this.ctx.store.checkpoints.release(jobId);
    const active = (await this.ctx.store.jobs.leasesForJob(jobId)).filter((l) => l.state !== "ended");
    if (active.length === 0) {
      await this.ctx.store.jobs.transitionJob(
        jobId,
        ["scheduled", "running"],
        "cancelled",
        now,
        "cancelled by tenant",
        { endedAt: now },
      );
    } else {
      await this.ctx.store.jobs.transitionJob(
        jobId,
        ["scheduled", "running"],
        job.state,
        now,
        "cancelling: checkpoint notice sent",
      );
    }
    return (await this.ctx.store.jobs.getJob(jobId))!;
  }
}

/** Validates a request beyond its schema and puts model ids into canonical form (models from `find`: the catalogue in force). */
export function normaliseRequest(
  r: JobRequest,
  find: (id: string) => { id: string } | undefined = findGpuModel,
): JobRequest {
  if (!Number.isInteger(r.gpus) || r.gpus < 1)
    throw invalid(`gpus must be a whole number of at least 1, got ${r.gpus}`, { field: "request.gpus" });
  if (r.gpuModels.length === 0)
    throw invalid("name at least one GPU model, e.g. H100", { field: "request.gpuModels" });
  const gpuModels = r.gpuModels.map((m) => {
    const model = find(m);
    if (!model)
      throw invalid(`unknown GPU model "${m}"; see GET /v1/gpu-models for the catalogue`, {
        field: "request.gpuModels",
      });
    return model.id;
  });
  const countries = r.countries?.map((c) => c.toUpperCase());
  for (const c of countries ?? []) {
    if (!isKnownCountry(c))
      throw invalid(`unknown country code "${c}"; use ISO 3166-1 alpha-2 codes such as ES or FI`, {
        field: "request.countries",
      });
  }
  if (r.gpusPerNode !== undefined && (r.gpusPerNode < 1 || r.gpus % r.gpusPerNode !== 0))
    throw invalid(`gpus (${r.gpus}) must be a multiple of gpusPerNode (${r.gpusPerNode})`, {
      field: "request.gpusPerNode",
    });
  if (
    r.maxPriceMinorPerGpuHour !== undefined &&
    (!Number.isInteger(r.maxPriceMinorPerGpuHour) || r.maxPriceMinorPerGpuHour <= 0)
  )
    throw invalid("maxPriceMinorPerGpuHour must be a positive whole number of minor units (cents)", {
      field: "request.maxPriceMinorPerGpuHour",
    });
  return { ...r, gpuModels, ...(countries ? { countries } : {}) };
}

/** The job as `p` may see it: operators (whose nodes ran it) never see the tenant's env values, only its names. */
export function redactSpecFor<J extends Job>(p: Principal, job: J): J {
  if (p.role !== "operator" || !job.spec.env) return job;
  const { env, ...spec } = job.spec;
  return { ...job, spec: { ...spec, envNames: Object.keys(env).sort() } };
}

/** Whether a site in `country` passes the request's jurisdiction and countries. */
function siteCountryAllowed(r: JobRequest, country: string): boolean {
  if (r.jurisdiction && !inJurisdiction(country, r.jurisdiction)) return false;
  return !(r.countries && r.countries.length > 0 && !r.countries.includes(country));
}
