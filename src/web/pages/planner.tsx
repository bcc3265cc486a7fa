import { useState, type FormEvent, type ReactNode } from "react";
import asturias from "../../../examples/plans/asturias-20mw-s19jpro.json" with { type: "json" };
import hybrid from "../../../examples/plans/small-5mw-hybrid.json" with { type: "json" };
import texas from "../../../examples/plans/texas-50mw-s21.json" with { type: "json" };
import { api, ApiError } from "../lib/api.js";
import { Card, ErrorBox, Field, Loading, NotAvailable, PageHeader } from "../components/ui.js";
import { PlanView, type Plan } from "./planner-charts.js";

const PRESETS: { id: string; scenario: { name: string } }[] = [
  { id: "asturias", scenario: asturias },
  { id: "hybrid", scenario: hybrid },
  { id: "texas", scenario: texas },
];

/** Operator: the conversion planner (mining vs AI hosting vs GPU cloud vs hybrid) with its charts. */
export function PlannerPage(): ReactNode {
  const [preset, setPreset] = useState("asturias");
  const [text, setText] = useState(JSON.stringify(asturias, null, 2));
  const [plan, setPlan] = useState<Plan | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);

  const choose = (id: string): void => {
    setPreset(id);
    const p = PRESETS.find((x) => x.id === id);
    if (p) setText(JSON.stringify(p.scenario, null, 2));
  };
  const run = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(null);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (err) {
      setError(new ApiError(400, `The scenario is not valid JSON: ${(err as Error).message}`));
      return;
    }
    setBusy(true);
    try {
      setPlan(await api<Plan>("POST", "/v1/plans", body));
    } catch (err) {
      setPlan(null);
      setError(err instanceof ApiError ? err : new ApiError(0, String(err)));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <PageHeader
        title="Conversion planner"
        subtitle="Should a mining hall keep mining, host AI, sell GPU-hours, or split its power? Net present value, payback, sensitivity and risk for a scenario."
      />
      <form className="planner-form" onSubmit={(e) => void run(e)} aria-label="Planner scenario">
        <Card title="Scenario">
          <div className="filters bar">
            <label htmlFor="plan-preset">Start from</label>
            <select id="plan-preset" value={preset} onChange={(e) => choose(e.target.value)}>
              {PRESETS.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.scenario.name}
                </option>
              ))}
            </select>
            <button className="btn primary" type="submit" disabled={busy}>
              {busy ? "Planning…" : "Run the plan"}
            </button>
          </div>
          <details>
            <summary>Edit the scenario JSON (fields: docs/planner.md)</summary>
            <Field label="Scenario JSON" htmlFor="plan-json">
              <textarea
                id="plan-json"
                className="mono"
                rows={14}
                value={text}
                onChange={(e) => setText(e.target.value)}
                spellCheck={false}
              />
            </Field>
          </details>
        </Card>
      </form>
      {error?.notAvailable ? (
        <NotAvailable feature="The planner" endpoint="POST /v1/plans" />
      ) : error ? (
        <ErrorBox error={error} what={undefined} />
      ) : null}
      {busy ? <Loading what="the plan" /> : null}
      {plan && !busy ? <PlanView plan={plan} /> : null}
      {!plan && !busy && !error ? (
        <p className="muted">Pick a scenario and run the plan; the charts appear here.</p>
      ) : null}
    </>
  );
}
