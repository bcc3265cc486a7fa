import { useState, type FormEvent, type ReactNode } from "react";
import { api, ApiError } from "../lib/api.js";
import { money, toMinor, when } from "../lib/format.js";
import { useApi } from "../lib/use-api.js";
import { ShownOnce } from "../components/shown-once.js";
import { Card, Empty, ErrorBox, Field, Loaded, PageHeader } from "../components/ui.js";

interface Operator {
  id: string;
  name: string;
  createdAt: number;
}
interface Tenant extends Operator {
  country: string;
  vatId: string | null;
  creditLimitMinor: number;
}

/** Admin: operators, and onboarding a new one (with its first key). */
export function OperatorsPage(): ReactNode {
  const ops = useApi<Operator[]>("/v1/operators");
  const [name, setName] = useState("");
  const [secret, setSecret] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const create = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(null);
    setSecret(null);
    try {
      const r = await api<{ key: string }>("POST", "/v1/operators", { name: name.trim() });
      setSecret(r.key);
      setName("");
      ops.reload();
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(0, String(err)));
    }
  };
  return (
    <>
      <PageHeader
        title="Operators"
        subtitle="Companies that run halls and sell their GPUs on the marketplace."
      />
      <Card title="Onboard an operator">
        <form className="inline-form" onSubmit={(e) => void create(e)} aria-label="Onboard an operator">
          <Field label="Company name" htmlFor="op-name">
            <input
              id="op-name"
              value={name}
              onChange={(e) => setName(e.target.value)}
              required
              placeholder="Hashfield Energy"
            />
          </Field>
          <button className="btn primary" type="submit" disabled={!name.trim()}>
            Create operator
          </button>
        </form>
        {secret ? <ShownOnce secret={secret} what="The operator's first API key" /> : null}
        {error ? <ErrorBox error={error} /> : null}
      </Card>
      <Card title="All operators">
        <Loaded state={ops} what="operators">
          {(rows) =>
            rows.length === 0 ? (
              <Empty title="No operators yet.">Onboard the first one above.</Empty>
            ) : (
              <div className="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th>Name</th>
                      <th>ID</th>
                      <th>Since</th>
                    </tr>
                  </thead>
                  <tbody>
                    {rows.map((o) => (
                      <tr key={o.id}>
                        <td>{o.name}</td>
                        <td className="mono">{o.id}</td>
                        <td>{when(o.createdAt)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )
          }
        </Loaded>
      </Card>
    </>
  );
}

/** Admin: tenants with their credit lines, and onboarding a new one. */
export function TenantsPage(): ReactNode {
  const ts = useApi<Tenant[]>("/v1/tenants");
  const [f, setF] = useState({ name: "", country: "", vatId: "", credit: "" });
  const [secret, setSecret] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const create = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(null);
    setSecret(null);
    const credit = f.credit.trim() ? toMinor(f.credit) : 0;
    if (credit === null)
      return setError(
        new ApiError(400, "Check the credit limit.", [
          { path: "creditLimit", message: "an amount like 5000.00" },
        ]),
      );
    try {
      const r = await api<{ key: string }>("POST", "/v1/tenants", {
        name: f.name.trim(),
        country: f.country.trim(),
        ...(f.vatId.trim() ? { vatId: f.vatId.trim() } : {}),
        creditLimitMinor: credit,
      });
      setSecret(r.key);
      setF({ name: "", country: "", vatId: "", credit: "" });
      ts.reload();
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(0, String(err)));
    }
  };
  return (
    <>
      <PageHeader
        title="Tenants"
        subtitle="AI startups and labs that buy GPU time; each has a credit line that caps unpaid spend."
      />
      <Card title="Onboard a tenant">
        <form className="inline-form" onSubmit={(e) => void create(e)} aria-label="Onboard a tenant">
          <Field label="Name" htmlFor="t-name">
            <input
              id="t-name"
              value={f.name}
              onChange={(e) => setF({ ...f, name: e.target.value })}
              required
            />
          </Field>
          <Field label="Country" htmlFor="t-country" hint="ISO code, e.g. ES">
            <input
              id="t-country"
              value={f.country}
              onChange={(e) => setF({ ...f, country: e.target.value })}
              maxLength={2}
              required
            />
          </Field>
          <Field label="VAT id (optional)" htmlFor="t-vat">
            <input id="t-vat" value={f.vatId} onChange={(e) => setF({ ...f, vatId: e.target.value })} />
          </Field>
          <Field label="Credit limit" htmlFor="t-credit">
            <input
              id="t-credit"
              inputMode="decimal"
              value={f.credit}
              onChange={(e) => setF({ ...f, credit: e.target.value })}
              placeholder="5000.00"
            />
          </Field>
          <button className="btn primary" type="submit" disabled={!f.name.trim() || !f.country.trim()}>
            Create tenant
          </button>
        </form>
        {secret ? <ShownOnce secret={secret} what="The tenant's first API key" /> : null}
        {error ? <ErrorBox error={error} /> : null}
      </Card>
      <Card title="All tenants">
        <Loaded state={ts} what="tenants">
          {(rows) =>
            rows.length === 0 ? (
              <Empty title="No tenants yet.">Onboard the first one above.</Empty>
            ) : (
              <div className="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th>Name</th>
                      <th>ID</th>
                      <th>Country</th>
                      <th>VAT id</th>
                      <th className="num">Credit limit</th>
                      <th>Since</th>
                    </tr>
                  </thead>
                  <tbody>
                    {rows.map((t) => (
                      <tr key={t.id}>
                        <td>{t.name}</td>
                        <td className="mono">{t.id}</td>
                        <td>{t.country}</td>
                        <td>{t.vatId ?? "—"}</td>
                        <td className="num">{money(t.creditLimitMinor)}</td>
                        <td>{when(t.createdAt)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )
          }
        </Loaded>
      </Card>
    </>
  );
}
