import { useState, type FormEvent, type ReactNode } from "react";
import { api, ApiError } from "../lib/api.js";
import { num, thisMonth } from "../lib/format.js";
import type { IndicatorExport } from "../../energy/indicators.js";
import type { Site } from "../lib/types.js";
import { useApi } from "../lib/use-api.js";
import { Card, Empty, ErrorBox, Field, Loaded, PageHeader, Stat } from "../components/ui.js";

/** One site's row of GET /v1/indicators (the energy core's export record). */
type SiteIndicators = IndicatorExport;
interface IndicatorsAnswer {
  month: string;
  sites: SiteIndicators[];
  sitesWithoutReadings: string[];
}

const fig = (x: number | null | undefined, d = 3): string =>
  x === null || x === undefined ? "—" : num(x, d);
const kwh = (x: number | null): string => (x === null ? "—" : `${num(x, 0)} kWh`);

/** Operator: the EU data-centre indicators (PUE, REF, ERF, WUE) of a site for a month, from its meter readings. */
export function IndicatorsPage(): ReactNode {
  const sites = useApi<Site[]>("/v1/sites");
  const [siteId, setSiteId] = useState("");
  const [month, setMonth] = useState(thisMonth());
  const id = siteId || sites.data?.[0]?.id || "";
  const ind = useApi<IndicatorsAnswer>(
    id && /^\d{4}-\d{2}$/.test(month)
      ? `/v1/indicators?month=${month}&siteId=${encodeURIComponent(id)}`
      : null,
  );
  return (
    <>
      <PageHeader
        title="EU indicators"
        subtitle="Key performance indicators of Delegated Regulation (EU) 2024/1364 from your meter readings and the IT energy Zumbido metered: PUE, renewable energy factor, energy reuse factor, water usage effectiveness."
      />
      <Loaded state={sites} what="your sites">
        {(ss) =>
          ss.length === 0 ? (
            <Empty title="You have no sites yet." />
          ) : (
            <>
              <div className="filters bar">
                <label htmlFor="ind-site">Site</label>
                <select id="ind-site" value={id} onChange={(e) => setSiteId(e.target.value)}>
                  {ss.map((s) => (
                    <option key={s.id} value={s.id}>
                      {s.name}
                    </option>
                  ))}
                </select>
                <label htmlFor="ind-month">Month</label>
                <input id="ind-month" type="month" value={month} onChange={(e) => setMonth(e.target.value)} />
              </div>
              <Loaded
                state={ind}
                what="the indicators"
                feature="EU indicators"
                endpoint="GET /v1/indicators?month=YYYY-MM"
              >
                {(d) => {
                  const row = d.sites.find((x) => x.siteId === id);
                  return (
                    <>
                      {row ? (
                        <Figures row={row} />
                      ) : (
                        <Empty title={`No meter readings for ${month} yet.`}>
                          Enter the month&apos;s readings below; the indicators follow from them.
                        </Empty>
                      )}
                      <Readings siteId={id} month={month} onSaved={ind.reload} />
                    </>
                  );
                }}
              </Loaded>
            </>
          )
        }
      </Loaded>
    </>
  );
}

function Figures({ row }: { row: SiteIndicators }): ReactNode {
  return (
    <>
      <div className="stats">
        <Stat label="PUE" value={fig(row.PUE)} hint="facility ÷ IT energy" />
        <Stat label="REF" value={fig(row.REF)} hint="renewable ÷ facility energy" />
        <Stat label="ERF" value={fig(row.ERF)} hint="reused ÷ facility energy" />
        <Stat label="WUE" value={row.WUE === null ? "—" : `${fig(row.WUE)} L/kWh`} hint="water per IT kWh" />
      </div>
      <Card title="Readings">
        <dl className="kv">
          <dt>Period</dt>
          <dd>
            {row.periodStart} to {row.periodEnd}
          </dd>
          <dt>Facility energy (E_DC)</dt>
          <dd>{kwh(row.eDcKwh)}</dd>
          <dt>IT energy (E_IT)</dt>
          <dd>{kwh(row.eItKwh)}</dd>
          <dt>Renewable (E_RES-TOT)</dt>
          <dd>{kwh(row.eResTotKwh)}</dd>
          <dt>Reused (E_REUSE)</dt>
          <dd>{kwh(row.eReuseKwh)}</dd>
          <dt>Water in (W_IN)</dt>
          <dd>{row.wInM3 === null ? "—" : `${num(row.wInM3, 1)} m³`}</dd>
          <dt>Installed IT power</dt>
          <dd>
            {num(row.installedItPowerKw)} kW (
            {row.reportingRequired ? "reporting required" : "under the 500 kW reporting threshold"})
          </dd>
        </dl>
        {row.notices.length ? (
          <ul className="hint">
            {row.notices.map((n) => (
              <li key={n}>{n}</li>
            ))}
          </ul>
        ) : null}
      </Card>
    </>
  );
}

const READINGS = [
  ["eDcKwh", "Facility energy E_DC, kWh", true],
  ["eItKwh", "IT energy E_IT, kWh (blank: metered)", false],
  ["eResTotKwh", "Renewable E_RES-TOT, kWh", false],
  ["eReuseKwh", "Reused E_REUSE, kWh", false],
  ["wInM3", "Water in W_IN, m³", false],
  ["installedItKw", "Installed IT power, kW", true],
] as const;

function Readings({
  siteId,
  month,
  onSaved,
}: {
  siteId: string;
  month: string;
  onSaved: () => void;
}): ReactNode {
  const [v, setV] = useState<Record<string, string>>({});
  const [error, setError] = useState<ApiError | null>(null);
  const save = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(null);
    const body: Record<string, number> = {};
    const problems: { path: string; message: string }[] = [];
    for (const [k, , required] of READINGS) {
      const s = (v[k] ?? "").trim();
      if (s === "") {
        if (required) problems.push({ path: k, message: "required" });
        continue;
      }
      const n = Number(s);
      if (!Number.isFinite(n) || n < 0) problems.push({ path: k, message: "a number of at least 0" });
      else body[k] = n;
    }
    if (problems.length) return setError(new ApiError(400, "Check the readings.", problems));
    try {
      await api("PUT", `/v1/sites/${encodeURIComponent(siteId)}/meter-readings/${month}`, body);
      onSaved();
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(0, String(err)));
    }
  };
  return (
    <Card title={`Meter readings for ${month}`}>
      <form className="inline-form" onSubmit={(e) => void save(e)} aria-label="Meter readings">
        {READINGS.map(([k, label]) => (
          <Field key={k} label={label} htmlFor={`reading-${k}`}>
            <input
              id={`reading-${k}`}
              inputMode="decimal"
              value={v[k] ?? ""}
              onChange={(e) => setV({ ...v, [k]: e.target.value })}
            />
          </Field>
        ))}
        <button className="btn primary" type="submit">
          Save readings
        </button>
      </form>
      {error ? <ErrorBox error={error} /> : null}
    </Card>
  );
}
