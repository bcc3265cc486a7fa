import { useState, type FormEvent, type ReactNode } from "react";
import { api, ApiError } from "../lib/api.js";
import { setKey } from "../lib/session.js";
import type { Me } from "../lib/types.js";
import { ErrorBox } from "../components/ui.js";

/** Sign-in with an API key (kept in this tab's sessionStorage only). */
export function SignIn({
  onSignedIn,
  notice,
}: {
  onSignedIn: (key: string) => void;
  notice: string | null;
}): ReactNode {
  const [key, setKeyText] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    const k = key.trim();
    if (!k) {
      setError(new ApiError(400, "Paste your API key first.", [{ path: "key", message: "required" }]));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const me = await api<Me>("GET", "/v1/me", undefined, k);
      if (me.role === "node")
        throw new ApiError(
          403,
          "This is a node key: it is for agents, not for the console. Use an admin, operator or tenant key.",
        );
      setKey(k);
      onSignedIn(k);
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(0, String(err)));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="signin">
      <form className="card signin-card" onSubmit={(e) => void submit(e)} aria-labelledby="signin-title">
        <div className="brand dark">
          <span className="logo" aria-hidden="true">
            Z
          </span>
          <span>Zumbido</span>
        </div>
        <h1 id="signin-title">Sign in to the console</h1>
        <p className="muted">
          GPU capacity from converted mining halls. Sign in with the API key you were given: tenants see
          capacity and their jobs, operators their halls, admins the marketplace.
        </p>
        {notice ? (
          <p className="notice" role="status">
            {notice}
          </p>
        ) : null}
        <div className="field">
          <label htmlFor="api-key">API key</label>
          <input
            id="api-key"
            name="api-key"
            type="password"
            autoComplete="off"
            spellCheck={false}
            value={key}
            onChange={(e) => setKeyText(e.target.value)}
            placeholder="zk_…"
            aria-describedby="api-key-hint"
            autoFocus
          />
          <div className="hint" id="api-key-hint">
            Kept in this browser tab only, until you sign out or close the tab. <code>npm start</code> prints
            demo keys.
          </div>
        </div>
        {error ? <ErrorBox error={error} /> : null}
        <button className="btn primary" type="submit" disabled={busy}>
          {busy ? "Checking…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
