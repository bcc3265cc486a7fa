import type { ReactNode } from "react";
import { num, when } from "../lib/format.js";

const isTime = (k: string): boolean => /(At|Ms)$/.test(k) && !/kw|wh/i.test(k);

/** A readable cell for any JSON value (timestamps by key name, numbers grouped). */
export function cell(key: string, v: unknown): ReactNode {
  if (v === null || v === undefined) return "—";
  if (typeof v === "number") return isTime(key) && v > 1e11 ? when(v) : num(v, 3);
  if (typeof v === "boolean") return v ? "yes" : "no";
  if (typeof v === "string") return v;
  return <code>{JSON.stringify(v)}</code>;
}

/** Words for a camelCase key ("maxKw" -> "Max kW"). */
export function label(key: string): string {
  const words = key
    .replace(/Ms$/, "")
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .toLowerCase();
  return (words.charAt(0).toUpperCase() + words.slice(1))
    .replace(/\bkw\b/g, "kW")
    .replace(/\bkwh\b/g, "kWh")
    .replace(/\bid\b/g, "ID");
}

/** A table of objects whose fields are not known in advance (newer endpoints). */
export function GenericTable({
  rows,
  hide = [],
}: {
  rows: Record<string, unknown>[];
  hide?: string[];
}): ReactNode {
  const keys = [...new Set(rows.slice(0, 20).flatMap((r) => Object.keys(r)))].filter(
    (k) => !hide.includes(k),
  );
  return (
    <div className="table-wrap">
      <table>
        <thead>
          <tr>
            {keys.map((k) => (
              <th key={k}>{label(k)}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={typeof r.id === "string" ? r.id : i}>
              {keys.map((k) => (
                <td key={k}>{cell(k, r[k])}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
