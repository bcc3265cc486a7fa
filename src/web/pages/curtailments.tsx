import { useState, type FormEvent, type ReactNode } from "react";
import { api, ApiError } from "../lib/api.js";
import { num, when } from "../lib/format.js";
import type { Site } from "../lib/types.js";
import { useApi } from "../lib/use-api.js";
import { Badge, Card, Empty, ErrorBox, Field, Loaded, PageHeader } from "../components/ui.js";

/** GET /v1/curtailments */
interface Curtailment {
  id: string;
  siteId: string;
  startMs: number;
  endMs: number;
  maxKw: number;
  noticeS: number;
  reason: string;
  state: string;
  kwBefore: number | null;
  kwAtStart: number | null;
  metAtMs: number | null;
  stopped: { leaseId: string; jobId: string; class: string; facilityKw: number; at: number }[];
  reasoning: string[];
}

/** Operator: curtailment events (grid requests to draw less), listed and declared. */
export function CurtailmentsPage(): ReactNode {
  const list = useApi<Curtailment[]>("/v1/curtailments", 5000);
  const sites = useApi<Site[]>("/v1/sites");
  const names = new Map((sites.data ?? []).map((s) => [s.id, s.name]));
  return (
    <>
      <PageHeader
        title="Curtailment"
        subtitle="When the grid asks a hall to draw less, declare a window: the scheduler keeps the site under the lowered budget, stopping interruptible work first with a checkpoint notice."
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
                <div className="table-wrap">
                  <table>
                    <thead>
                      <tr>
                        <th>Site</th>
                        <th>Window</th>
                        <th className="num">Max draw</th>
                        <th>State</th>
                        <th className="num">Draw before / at start</th>
                        <th>Stopped</th>
                        <th>Reason</th>
                      </tr>
                    </thead>
                    <tbody>
                      {[...rows]
                        .sort((a, b) => b.startMs - a.startMs)
                        .map((c) => (
                          <tr key={c.id}>
                            <td>{names.get(c.siteId) ?? c.siteId}</td>
                            <td>
                              {when(c.startMs)}
                              <div className="sub">to {when(c.endMs)}</div>
                            </td>
                            <td className="num">{num(c.maxKw, 1)} kW</td>
                            <td>
                              <Badge state={c.state} />
                              {c.metAtMs ? <div className="sub">met {when(c.metAtMs)}</div> : null}
                            </td>
                            <td className="num">
                              {c.kwBefore === null ? "—" : `${num(c.kwBefore, 1)} kW`} /{" "}
                              {c.kwAtStart === null ? "—" : `${num(c.kwAtStart, 1)} kW`}
                            </td>
                            <td>
                              {c.stopped.length
                                ? `${c.stopped.length} lease${c.stopped.length === 1 ? "" : "s"}`
                                : "none"}
                            </td>
                            <td>
                              {c.reason || "—"}
                              {c.reasoning.length ? (
                                <details>
                                  <summary>How it was met</summary>
                                  <ul>
                                    {c.reasoning.map((r) => (
                                      <li key={r}>{r}</li>
                                    ))}
                                  </ul>
                                </details>
                              ) : null}
                            </td>
                          </tr>
                        ))}
                    </tbody>
                  </table>
                </div>
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
  const [notice, setNotice] = useState("");
  const [reason, setReason] = useState("");
  const [error, setError] = useState<ApiError | null>(null);
  const [ok, setOk] = useState<string | null>(null);
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(null);
    setOk(null);
    const startMs = new Date(start).getTime();
    const endMs = new Date(end).getTime();
    const problems = [
      ...(Number.isFinite(startMs) ? [] : [{ path: "start", message: "choose when it starts" }]),
      ...(Number.isFinite(endMs) && endMs > startMs
        ? []
        : [{ path: "end", message: "choose an end after the start" }]),
      ...(maxKw !== "" && Number(maxKw) >= 0
        ? []
        : [{ path: "maxKw", message: "the most the site may draw, kW (0 to stop everything)" }]),
    ];
    if (problems.length) return setError(new ApiError(400, "Check the window.", problems));
    try {
      await api("POST", "/v1/curtailments", {
        siteId,
        start: startMs,
        end: endMs,
        maxKw: Number(maxKw),
        ...(notice ? { noticeS: Math.round(Number(notice)) } : {}),
        ...(reason ? { reason } : {}),
      });
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
                {s.name} ({num(s.powerKw)} kW)
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
        <Field label="Notice, s (optional)" htmlFor="curt-notice">
          <input
            id="curt-notice"
            type="number"
            min={0}
            value={notice}
            onChange={(e) => setNotice(e.target.value)}
          />
        </Field>
        <Field label="Reason" htmlFor="curt-reason">
          <input
            id="curt-reason"
            value={reason}
            onChange={(e) => setReason(e.target.value)}
            placeholder="grid demand response"
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
