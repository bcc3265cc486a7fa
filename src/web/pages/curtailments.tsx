import { useState, type FormEvent, type ReactNode } from "react";
import { api, ApiError } from "../lib/api.js";
import type { Site } from "../lib/types.js";
import { useApi } from "../lib/use-api.js";
import { GenericTable } from "../components/generic-table.js";
import { Card, Empty, ErrorBox, Field, Loaded, PageHeader } from "../components/ui.js";

/** Operator: curtailment events (grid requests to draw less), listed and declared. */
export function CurtailmentsPage(): ReactNode {
  const list = useApi<Record<string, unknown>[]>("/v1/curtailments", 10_000);
  const sites = useApi<Site[]>("/v1/sites");
  return (
    <>
      <PageHeader
        title="Curtailment"
        subtitle="When the grid asks a hall to draw less, declare a window: the scheduler keeps the site under the lowered budget, interruptible work first, with a checkpoint notice."
      />
      <Loaded state={list} what="curtailment events" feature="Curtailment" endpoint="GET /v1/curtailments">
        {(rows) => (
          <>
            <Card title="Events">
              {rows.length === 0 ? (
                <Empty title="No curtailment events.">
                  Declare one below when your grid operator or power contract asks for it.
                </Empty>
              ) : (
                <GenericTable rows={rows} />
              )}
            </Card>
            <Loaded state={sites} what="your sites">
              {(ss) => <Declare sites={ss} onDone={list.reload} />}
            </Loaded>
          </>
        )}
      </Loaded>
    </>
  );
}

function Declare({ sites, onDone }: { sites: Site[]; onDone: () => void }): ReactNode {
  const [siteId, setSiteId] = useState(sites[0]?.id ?? "");
  const [start, setStart] = useState("");
  const [end, setEnd] = useState("");
  const [maxKw, setMaxKw] = useState("");
  const [reason, setReason] = useState("");
  const [error, setError] = useState<ApiError | null>(null);
  const [ok, setOk] = useState<string | null>(null);
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(null);
    setOk(null);
    const body = {
      siteId,
      startMs: new Date(start).getTime(),
      endMs: new Date(end).getTime(),
      maxKw: Number(maxKw),
      ...(reason ? { reason } : {}),
    };
    const problems = [
      ...(Number.isFinite(body.startMs) ? [] : [{ path: "start", message: "choose when it starts" }]),
      ...(Number.isFinite(body.endMs) && body.endMs > body.startMs
        ? []
        : [{ path: "end", message: "choose an end after the start" }]),
      ...(maxKw !== "" && body.maxKw >= 0
        ? []
        : [{ path: "maxKw", message: "the most the site may draw, kW (0 to stop)" }]),
    ];
    if (problems.length) return setError(new ApiError(400, "Check the window.", problems));
    try {
      await api("POST", "/v1/curtailments", body);
      setOk("Declared. The scheduler applies it from its start.");
      onDone();
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(0, String(err)));
    }
  };
  return (
    <Card title="Declare a curtailment window">
      <form
        className="inline-form"
        onSubmit={(e) => void submit(e)}
        aria-label="Declare a curtailment window"
      >
        <Field label="Site" htmlFor="curt-site">
          <select id="curt-site" value={siteId} onChange={(e) => setSiteId(e.target.value)}>
            {sites.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Starts" htmlFor="curt-start">
          <input
            id="curt-start"
            type="datetime-local"
            value={start}
            onChange={(e) => setStart(e.target.value)}
          />
        </Field>
        <Field label="Ends" htmlFor="curt-end">
          <input id="curt-end" type="datetime-local" value={end} onChange={(e) => setEnd(e.target.value)} />
        </Field>
        <Field label="Max draw, kW" htmlFor="curt-kw">
          <input
            id="curt-kw"
            type="number"
            min={0}
            value={maxKw}
            onChange={(e) => setMaxKw(e.target.value)}
          />
        </Field>
        <Field label="Reason" htmlFor="curt-reason">
          <input
            id="curt-reason"
            value={reason}
            onChange={(e) => setReason(e.target.value)}
            placeholder="REE demand response"
          />
        </Field>
        <button className="btn primary" type="submit">
          Declare
        </button>
      </form>
      {ok ? (
        <p className="notice" role="status">
          {ok}
        </p>
      ) : null}
      {error ? <ErrorBox error={error} /> : null}
    </Card>
  );
}
