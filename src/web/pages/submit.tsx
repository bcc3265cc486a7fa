import { useMemo, useState, type FormEvent, type ReactNode } from "react";
import { api, ApiError } from "../lib/api.js";
import { estimate, type EstimateRequest } from "../lib/estimate.js";
import { money, toMinor } from "../lib/format.js";
import { navigate } from "../lib/router.js";
import type { GpuModelInfo, Job, Offer, Site } from "../lib/types.js";
import { useApi } from "../lib/use-api.js";
import { Card, ErrorBox, Field, Loaded, PageHeader } from "../components/ui.js";
import { EstimatePanel } from "./submit-estimate.js";

/** The form as typed (strings until submitted). */
interface Form {
  name: string;
  command: string;
  shell: boolean;
  image: string;
  network: boolean;
  env: string;
  secretEnv: string;
  gpus: string;
  models: string[];
  gpusPerNode: string;
  minMem: string;
  cls: "on-demand" | "interruptible";
  maxPrice: string;
  jurisdiction: "" | "EU" | "EEA";
  countries: string;
  maxCarbon: string;
  runtimeMin: string;
  deadline: string;
  grace: string;
}

const INITIAL: Form = {
  name: "",
  command: "",
  shell: true,
  image: "",
  network: false,
  env: "",
  secretEnv: "",
  gpus: "1",
  models: [],
  gpusPerNode: "",
  minMem: "",
  cls: "on-demand",
  maxPrice: "",
  jurisdiction: "",
  countries: "",
  maxCarbon: "",
  runtimeMin: "",
  deadline: "",
  grace: "",
};

const optNum = (s: string): number | undefined => (s.trim() === "" ? undefined : Number(s));

/** NAME=value lines into a record; `bad` hears of each line that is not one. */
function envLines(text: string, bad: (line: string) => void): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) bad(line);
    else env[m[1]!] = m[2]!;
  }
  return env;
}

/** Turns the form into the API body, or field problems in words. */
export function toBody(f: Form): { body?: Record<string, unknown>; problems: Record<string, string> } {
  const p: Record<string, string> = {};
  const gpus = Number(f.gpus);
  if (!Number.isInteger(gpus) || gpus < 1) p.gpus = "a whole number of at least 1";
  if (f.models.length === 0) p.models = "choose at least one GPU model";
  if (!f.command.trim()) p.command = "give the command to run, e.g. python train.py";
  const maxPrice = f.maxPrice.trim() ? toMinor(f.maxPrice) : undefined;
  if (maxPrice === null || maxPrice === 0) p.maxPrice = "a positive amount like 2.50";
  const countries = f.countries
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((c) => c.toUpperCase());
  if (countries.some((c) => !/^[A-Z]{2}$/.test(c))) p.countries = "two-letter codes such as ES, SE";
  const env = envLines(f.env, (line) => (p.env = `"${line}" is not NAME=value`));
  const secretEnv = envLines(
    f.secretEnv,
    (line) => (p.secretEnv = `"${line.split("=")[0]!.slice(0, 40)}…" is not NAME=value`),
  );
  for (const [k, label] of [
    ["gpusPerNode", "GPUs per node"],
    ["minMem", "memory"],
    ["maxCarbon", "carbon limit"],
    ["runtimeMin", "runtime"],
    ["grace", "grace period"],
  ] as const) {
    const v = optNum(f[k]);
    if (v !== undefined && !(v > 0)) p[k] = `the ${label} must be a positive number`;
  }
  if (Object.keys(p).length) return { problems: p };
  const command = f.shell ? [f.command.trim()] : f.command.trim().split(/\s+/);
  const body: Record<string, unknown> = { gpus, gpuModels: f.models, class: f.cls, command };
  if (f.name.trim()) body.name = f.name.trim();
  if (f.shell) body.shell = true;
  if (f.image.trim()) body.image = f.image.trim();
  if (f.network) body.network = true;
  if (Object.keys(env).length) body.env = env;
  if (Object.keys(secretEnv).length) body.secretEnv = secretEnv;
  if (f.gpusPerNode) body.gpusPerNode = Number(f.gpusPerNode);
  if (f.minMem) body.minGpuMemoryGb = Number(f.minMem);
  if (maxPrice) body.maxPriceMinorPerGpuHour = maxPrice;
  if (f.jurisdiction) body.jurisdiction = f.jurisdiction;
  if (countries.length) body.countries = countries;
  if (f.maxCarbon) body.maxCarbonGPerKwh = Number(f.maxCarbon);
  if (f.runtimeMin) body.runtimeEstimateS = Math.round(Number(f.runtimeMin) * 60);
  if (f.deadline) body.deadlineAt = new Date(f.deadline).getTime();
  if (f.grace) body.gracePeriodS = Math.round(Number(f.grace));
  return { body, problems: {} };
}

/** Tenant: a job with every constraint, and a price estimate before submitting. */
export function SubmitPage(): ReactNode {
  const cap = useApi<Offer[]>("/v1/capacity", 10_000);
  const cat = useApi<GpuModelInfo[]>("/v1/gpu-models");
  const sites = useApi<Site[]>("/v1/sites");
  const defaults = [
    ...new Set((sites.data ?? []).map((s) => s.defaultImage).filter((x): x is string => !!x)),
  ];
  const [f, setF] = useState<Form>(INITIAL);
  const [problems, setProblems] = useState<Record<string, string>>({});
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const set = <K extends keyof Form>(k: K, v: Form[K]): void => setF((x) => ({ ...x, [k]: v }));

  const req: EstimateRequest = useMemo(() => {
    const maxPrice = f.maxPrice.trim() ? toMinor(f.maxPrice) : null;
    return {
      gpus: Number(f.gpus),
      gpuModels: f.models,
      class: f.cls,
      ...(f.minMem ? { minGpuMemoryGb: Number(f.minMem) } : {}),
      ...(maxPrice ? { maxPriceMinorPerGpuHour: maxPrice } : {}),
      ...(f.jurisdiction ? { jurisdiction: f.jurisdiction } : {}),
      ...(f.countries.trim() ? { countries: f.countries.split(/[\s,]+/).filter(Boolean) } : {}),
      ...(f.maxCarbon ? { maxCarbonGPerKwh: Number(f.maxCarbon) } : {}),
      ...(f.runtimeMin ? { runtimeEstimateS: Number(f.runtimeMin) * 60 } : {}),
    };
  }, [f]);
  const est = cap.data && cat.data ? estimate(cap.data, req, cat.data) : null;

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    const { body, problems: p } = toBody(f);
    setProblems(p);
    setError(null);
    if (!body) return;
    setBusy(true);
    try {
      const job = await api<Job>("POST", "/v1/jobs", body);
      navigate(`/jobs/${job.id}`);
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(0, String(err)));
    } finally {
      setBusy(false);
    }
  };

  const err = (k: string): ReactNode =>
    problems[k] ? <div className="field-error">{problems[k]}</div> : null;
  const offered = new Set(cap.data?.map((o) => o.gpuModel) ?? []);
  return (
    <>
      <PageHeader
        title="Submit a job"
        subtitle="Ask for GPUs with the constraints you need; the estimate on the right follows what you type."
      />
      <div className="split">
        <form className="stack" onSubmit={(e) => void submit(e)} noValidate aria-label="New job">
          <Card title="What to run">
            <div className="grid2">
              <Field label="Name (optional)" htmlFor="job-name">
                <input
                  id="job-name"
                  value={f.name}
                  onChange={(e) => set("name", e.target.value)}
                  placeholder="llama-finetune"
                />
              </Field>
              <Field
                label="Container image (optional)"
                htmlFor="job-image"
                hint="Runs in this image on container nodes; left empty, the site's default image."
              >
                <input
                  id="job-image"
                  value={f.image}
                  onChange={(e) => set("image", e.target.value)}
                  placeholder={
                    defaults.length === 1
                      ? `site default: ${defaults[0]}`
                      : defaults.length > 1
                        ? `site default (${defaults.slice(0, 2).join(", ")}${defaults.length > 2 ? ", …" : ""})`
                        : "ghcr.io/acme/train:1.4"
                  }
                />
              </Field>
            </div>
            <Field
              label="Command"
              htmlFor="job-command"
              hint={
                f.shell
                  ? "Run by /bin/sh -c on the node."
                  : "Split on spaces into the program and its arguments."
              }
            >
              <input
                id="job-command"
                className="mono"
                value={f.command}
                onChange={(e) => set("command", e.target.value)}
                placeholder="python train.py --epochs 3"
                aria-invalid={!!problems.command}
              />
              {err("command")}
            </Field>
            <label className="check">
              <input type="checkbox" checked={f.shell} onChange={(e) => set("shell", e.target.checked)} /> Run
              through a shell (pipes, <code>;</code>, variables)
            </label>
            <label className="check">
              <input type="checkbox" checked={f.network} onChange={(e) => set("network", e.target.checked)} />{" "}
              Network access (only where the site allows it; otherwise the workload has none)
            </label>
            <div className="grid2">
              <Field label="Environment (NAME=value per line)" htmlFor="job-env">
                <textarea
                  id="job-env"
                  className="mono"
                  rows={2}
                  value={f.env}
                  onChange={(e) => set("env", e.target.value)}
                  placeholder="WANDB_MODE=offline"
                />
                {err("env")}
              </Field>
              <Field
                label="Secret environment (NAME=value per line)"
                htmlFor="job-secret-env"
                hint="Stored encrypted, given only to the node running the job, never shown again (names only)."
              >
                <textarea
                  id="job-secret-env"
                  className="mono"
                  rows={2}
                  autoComplete="off"
                  spellCheck={false}
                  value={f.secretEnv}
                  onChange={(e) => set("secretEnv", e.target.value)}
                  placeholder="HF_TOKEN=hf_..."
                />
                {err("secretEnv")}
              </Field>
              <Field
                label="Checkpoint grace period (s)"
                htmlFor="job-grace"
                hint="Time between the stop notice and the kill."
              >
                <input
                  id="job-grace"
                  type="number"
                  min={0}
                  max={3600}
                  value={f.grace}
                  onChange={(e) => set("grace", e.target.value)}
                  placeholder="10"
                />
                {err("grace")}
              </Field>
            </div>
          </Card>
          <Card title="GPUs">
            <fieldset className="models">
              <legend>GPU models (any of)</legend>
              <Loaded state={cat} what="the GPU catalogue">
                {(models) => (
                  <div className="chips">
                    {models.map((m) => (
                      <label
                        key={m.id}
                        className={`chip ${f.models.includes(m.id) ? "on" : ""} ${offered.has(m.id) ? "" : "dim"}`}
                        title={`${m.name}, ${m.memoryGb} GB`}
                      >
                        <input
                          type="checkbox"
                          checked={f.models.includes(m.id)}
                          onChange={(e) =>
                            set(
                              "models",
                              e.target.checked ? [...f.models, m.id] : f.models.filter((x) => x !== m.id),
                            )
                          }
                        />
                        {m.id}
                      </label>
                    ))}
                  </div>
                )}
              </Loaded>
              {err("models")}
            </fieldset>
            <div className="grid3">
              <Field label="GPUs" htmlFor="job-gpus">
                <input
                  id="job-gpus"
                  type="number"
                  min={1}
                  value={f.gpus}
                  onChange={(e) => set("gpus", e.target.value)}
                  aria-invalid={!!problems.gpus}
                />
                {err("gpus")}
              </Field>
              <Field
                label="GPUs per node (optional)"
                htmlFor="job-gpn"
                hint="Gang shape: GPUs must be a multiple."
              >
                <input
                  id="job-gpn"
                  type="number"
                  min={1}
                  value={f.gpusPerNode}
                  onChange={(e) => set("gpusPerNode", e.target.value)}
                />
                {err("gpusPerNode")}
              </Field>
              <Field label="Min GPU memory, GB" htmlFor="job-mem">
                <input
                  id="job-mem"
                  type="number"
                  min={1}
                  value={f.minMem}
                  onChange={(e) => set("minMem", e.target.value)}
                />
                {err("minMem")}
              </Field>
            </div>
            <fieldset className="radios">
              <legend>Class</legend>
              <label className="check">
                <input
                  type="radio"
                  name="cls"
                  checked={f.cls === "on-demand"}
                  onChange={() => set("cls", "on-demand")}
                />{" "}
                On-demand <span className="muted">— runs until done</span>
              </label>
              <label className="check">
                <input
                  type="radio"
                  name="cls"
                  checked={f.cls === "interruptible"}
                  onChange={() => set("cls", "interruptible")}
                />{" "}
                Interruptible{" "}
                <span className="muted">— cheaper; may be stopped with a checkpoint notice</span>
              </label>
            </fieldset>
          </Card>
          <Card title="Constraints">
            <div className="grid3">
              <Field label="Max price per GPU-hour" htmlFor="job-maxprice" hint="In your currency, e.g. 2.50">
                <input
                  id="job-maxprice"
                  inputMode="decimal"
                  value={f.maxPrice}
                  onChange={(e) => set("maxPrice", e.target.value)}
                  aria-invalid={!!problems.maxPrice}
                />
                {err("maxPrice")}
              </Field>
              <Field label="Jurisdiction" htmlFor="job-jur" hint="Code, logs and outputs stay there.">
                <select
                  id="job-jur"
                  value={f.jurisdiction}
                  onChange={(e) => set("jurisdiction", e.target.value as Form["jurisdiction"])}
                >
                  <option value="">Anywhere</option>
                  <option value="EU">EU only</option>
                  <option value="EEA">EEA only</option>
                </select>
              </Field>
              <Field label="Countries (optional)" htmlFor="job-countries" hint="e.g. ES, SE">
                <input
                  id="job-countries"
                  value={f.countries}
                  onChange={(e) => set("countries", e.target.value)}
                />
                {err("countries")}
              </Field>
              <Field label="Max carbon, gCO₂e/kWh" htmlFor="job-carbon">
                <input
                  id="job-carbon"
                  type="number"
                  min={1}
                  value={f.maxCarbon}
                  onChange={(e) => set("maxCarbon", e.target.value)}
                />
                {err("maxCarbon")}
              </Field>
              <Field
                label="Runtime estimate, minutes"
                htmlFor="job-runtime"
                hint="Helps backfill; prices the total."
              >
                <input
                  id="job-runtime"
                  type="number"
                  min={1}
                  value={f.runtimeMin}
                  onChange={(e) => set("runtimeMin", e.target.value)}
                />
                {err("runtimeMin")}
              </Field>
              <Field label="Deadline (optional)" htmlFor="job-deadline">
                <input
                  id="job-deadline"
                  type="datetime-local"
                  value={f.deadline}
                  onChange={(e) => set("deadline", e.target.value)}
                />
              </Field>
            </div>
          </Card>
          {error ? <ErrorBox error={error} /> : null}
          {Object.keys(problems).length ? (
            <div className="state error" role="alert">
              <strong>Fix the highlighted fields:</strong> {Object.keys(problems).join(", ")}.
            </div>
          ) : null}
          <div className="form-actions">
            <button className="btn primary" type="submit" disabled={busy}>
              {busy ? "Submitting…" : "Submit job"}
            </button>
            {est?.perHourMinor != null ? (
              <span className="muted">
                About {money(est.perHourMinor, est.cheapest?.currency)} per hour at the cheapest eligible
                offer.
              </span>
            ) : null}
          </div>
        </form>
        <EstimatePanel
          est={est}
          req={req}
          loading={cap.loading || cat.loading}
          error={cap.error ?? cat.error}
        />
      </div>
    </>
  );
}
