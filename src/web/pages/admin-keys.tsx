import { useState, type FormEvent, type ReactNode } from "react";
import { api, ApiError } from "../lib/api.js";
import { when } from "../lib/format.js";
import { useApi } from "../lib/use-api.js";
import { ShownOnce } from "../components/shown-once.js";
import { Badge, Card, Empty, ErrorBox, Field, Loaded, PageHeader } from "../components/ui.js";

interface Key {
  id: string;
  prefix: string;
  role: string;
  ownerId: string | null;
  name: string;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
}

/** Admin: every API key (never the secrets), new keys, and revocation. */
export function KeysPage(): ReactNode {
  const keys = useApi<Key[]>("/v1/keys");
  const [f, setF] = useState({ role: "tenant", ownerId: "", name: "" });
  const [secret, setSecret] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const create = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(null);
    setSecret(null);
    try {
      const r = await api<{ key: string }>("POST", "/v1/keys", {
        role: f.role,
        name: f.name.trim(),
        ownerId: f.role === "admin" ? null : f.ownerId.trim(),
      });
      setSecret(r.key);
      setF({ ...f, name: "" });
      keys.reload();
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(0, String(err)));
    }
  };
  const revoke = async (k: Key): Promise<void> => {
    if (
      !window.confirm(`Revoke the key "${k.name}" (${k.prefix}…)? Anything using it stops working at once.`)
    )
      return;
    setError(null);
    try {
      await api("DELETE", `/v1/keys/${encodeURIComponent(k.id)}`);
      keys.reload();
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(0, String(err)));
    }
  };
  return (
    <>
      <PageHeader
        title="API keys"
        subtitle="Keys are stored hashed; a secret is shown once, when it is created."
      />
      <Card title="Create a key">
        <form className="inline-form" onSubmit={(e) => void create(e)} aria-label="Create an API key">
          <Field label="Role" htmlFor="k-role">
            <select id="k-role" value={f.role} onChange={(e) => setF({ ...f, role: e.target.value })}>
              <option value="tenant">tenant</option>
              <option value="operator">operator</option>
              <option value="admin">admin</option>
            </select>
          </Field>
          {f.role !== "admin" ? (
            <Field label={f.role === "tenant" ? "Tenant ID" : "Operator ID"} htmlFor="k-owner">
              <input
                id="k-owner"
                className="mono"
                value={f.ownerId}
                onChange={(e) => setF({ ...f, ownerId: e.target.value })}
                required
              />
            </Field>
          ) : null}
          <Field label="Name" htmlFor="k-name" hint="Who or what uses it, e.g. ci-runner">
            <input
              id="k-name"
              value={f.name}
              onChange={(e) => setF({ ...f, name: e.target.value })}
              required
            />
          </Field>
          <button className="btn primary" type="submit" disabled={!f.name.trim()}>
            Create key
          </button>
        </form>
        {secret ? <ShownOnce secret={secret} what="The new key" /> : null}
        {error ? <ErrorBox error={error} /> : null}
      </Card>
      <Card title="All keys">
        <Loaded state={keys} what="keys">
          {(rows) =>
            rows.length === 0 ? (
              <Empty title="No keys." />
            ) : (
              <div className="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th>Name</th>
                      <th>Prefix</th>
                      <th>Role</th>
                      <th>Owner</th>
                      <th>Created</th>
                      <th>Status</th>
                      <th />
                    </tr>
                  </thead>
                  <tbody>
                    {rows.map((k) => (
                      <tr key={k.id}>
                        <td>{k.name}</td>
                        <td className="mono">{k.prefix}…</td>
                        <td>{k.role}</td>
                        <td className="mono sub">{k.ownerId ?? "—"}</td>
                        <td>{when(k.createdAt)}</td>
                        <td>
                          {k.revokedAt ? (
                            <Badge state="revoked" />
                          ) : k.expiresAt && k.expiresAt < Date.now() ? (
                            <Badge state="expired" />
                          ) : (
                            <span className="badge ok">active</span>
                          )}
                        </td>
                        <td className="num">
                          {!k.revokedAt ? (
                            <button
                              type="button"
                              className="btn small danger"
                              onClick={() => void revoke(k)}
                              aria-label={`Revoke key ${k.name}`}
                            >
                              Revoke
                            </button>
                          ) : null}
                        </td>
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
