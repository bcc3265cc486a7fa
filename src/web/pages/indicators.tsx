import { useState, type ReactNode } from "react";
import { num, thisMonth } from "../lib/format.js";
import type { Site } from "../lib/types.js";
import { useApi } from "../lib/use-api.js";
import { cell, label } from "../components/generic-table.js";
import { Card, Empty, Loaded, PageHeader, Stat } from "../components/ui.js";

interface Indicators {
  pue?: number | null;
  ref?: number | null;
  erf?: number | null;
  wueLPerKwh?: number | null;
  eDcKwh?: number | null;
  eItKwh?: number | null;
  reportingRequired?: boolean;
  notices?: string[];
  [k: string]: unknown;
}

const fig = (x: number | null | undefined, d = 2): string =>
  x === null || x === undefined ? "—" : num(x, d);

/** Operator: the EU data-centre indicators (PUE, REF, ERF, WUE) of a site for a month. */
export function IndicatorsPage(): ReactNode {
  const sites = useApi<Site[]>("/v1/sites");
  const [siteId, setSiteId] = useState("");
  const [month, setMonth] = useState(thisMonth());
  const id = siteId || sites.data?.[0]?.id || "";
  const ind = useApi<Indicators>(
    id && /^\d{4}-\d{2}$/.test(month)
      ? `/v1/sites/${encodeURIComponent(id)}/indicators?month=${month}`
      : null,
  );
  return (
    <>
      <PageHeader
        title="EU indicators"
        subtitle="Key performance indicators of Delegated Regulation (EU) 2024/1364: PUE, renewable energy factor, energy reuse factor and water usage effectiveness."
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
                endpoint="GET /v1/sites/:id/indicators?month=YYYY-MM"
              >
                {(d) => (
                  <>
                    <div className="stats">
                      <Stat label="PUE" value={fig(d.pue)} hint="facility ÷ IT energy" />
                      <Stat label="REF" value={fig(d.ref)} hint="renewable ÷ facility energy" />
                      <Stat label="ERF" value={fig(d.erf)} hint="reused ÷ facility energy" />
                      <Stat
                        label="WUE"
                        value={d.wueLPerKwh == null ? "—" : `${fig(d.wueLPerKwh)} L/kWh`}
                        hint="water per IT kWh"
                      />
                    </div>
                    {d.notices?.length ? (
                      <Card title="Notices">
                        <ul>
                          {d.notices.map((n) => (
                            <li key={n}>{n}</li>
                          ))}
                        </ul>
                      </Card>
                    ) : null}
                    <Card title="Inputs and figures">
                      <dl className="kv">
                        {Object.entries(d)
                          .filter(([k, v]) => k !== "notices" && (typeof v !== "object" || v === null))
                          .map(([k, v]) => (
                            <div key={k} className="kv-row">
                              <dt>{label(k)}</dt>
                              <dd>{cell(k, v)}</dd>
                            </div>
                          ))}
                      </dl>
                    </Card>
                  </>
                )}
              </Loaded>
            </>
          )
        }
      </Loaded>
    </>
  );
}
