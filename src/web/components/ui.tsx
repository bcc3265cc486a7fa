import type { ReactNode } from "react";
import type { ApiError } from "../lib/api.js";
import type { ApiState } from "../lib/use-api.js";

/** A page's title row, with optional actions on the right. */
export function PageHeader({
  title,
  subtitle,
  actions,
}: {
  title: string;
  subtitle?: ReactNode;
  actions?: ReactNode;
}): ReactNode {
  return (
    <header className="page-header">
      <div>
        <h1>{title}</h1>
        {subtitle ? <p className="muted">{subtitle}</p> : null}
      </div>
      {actions ? <div className="actions">{actions}</div> : null}
    </header>
  );
}

/** A white panel with an optional heading. */
export function Card({
  title,
  children,
  actions,
  className,
}: {
  title?: string;
  children: ReactNode;
  actions?: ReactNode;
  className?: string;
}): ReactNode {
  return (
    <section className={`card ${className ?? ""}`} aria-label={title}>
      {title || actions ? (
        <div className="card-head">
          {title ? <h2>{title}</h2> : <span />}
          {actions}
        </div>
      ) : null}
      {children}
    </section>
  );
}

/** A headline figure. */
export function Stat({
  label,
  value,
  hint,
  tone,
}: {
  label: string;
  value: ReactNode;
  hint?: ReactNode;
  tone?: "ok" | "warn" | "bad";
}): ReactNode {
  return (
    <div className={`stat ${tone ?? ""}`}>
      <div className="stat-label">{label}</div>
      <div className="stat-value">{value}</div>
      {hint ? <div className="stat-hint">{hint}</div> : null}
    </div>
  );
}

/** "Loading…" that screen readers announce. */
export function Loading({ what }: { what: string }): ReactNode {
  return (
    <div className="state loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" /> Loading {what}…
    </div>
  );
}

/** Nothing to show yet, and what to do about it. */
export function Empty({ title, children }: { title: string; children?: ReactNode }): ReactNode {
  return (
    <div className="state empty">
      <strong>{title}</strong>
      {children ? <div>{children}</div> : null}
    </div>
  );
}

/** The feature needs an endpoint this server does not have yet. */
export function NotAvailable({ feature, endpoint }: { feature: string; endpoint: string }): ReactNode {
  return (
    <div className="state not-available" role="note">
      <strong>{feature} is not available on this server yet.</strong>
      <div>
        This server does not answer <code>{endpoint}</code>. It comes with a newer Zumbido release; nothing is
        wrong with your account or data.
      </div>
    </div>
  );
}

/** An API error in words, with its field problems and what to do. */
export function ErrorBox({
  error,
  retry,
  what,
}: {
  error: ApiError;
  retry?: () => void;
  what?: string;
}): ReactNode {
  const hint =
    error.status === 0
      ? "Check your connection and that the server is running."
      : error.status === 401
        ? "Sign out and sign in again with a valid key."
        : error.status === 403
          ? "Your key's role cannot do this; ask an admin."
          : error.status >= 500
            ? "The server failed; try again in a moment."
            : null;
  return (
    <div className="state error" role="alert">
      <strong>{what ? `Could not load ${what}.` : "That did not work."}</strong>
      <div>{error.detail}</div>
      {error.errors.length ? (
        <ul>
          {error.errors.map((e) => (
            <li key={e.path + e.message}>
              <code>{e.path}</code>: {e.message}
            </li>
          ))}
        </ul>
      ) : null}
      {hint ? <div className="muted">{hint}</div> : null}
      {retry ? (
        <button type="button" className="btn small" onClick={retry}>
          Try again
        </button>
      ) : null}
    </div>
  );
}

/** Renders loading / not-available / error states of a fetch, else the children with the data. */
export function Loaded<T>({
  state,
  what,
  feature,
  endpoint,
  children,
}: {
  state: ApiState<T>;
  what: string;
  feature?: string;
  endpoint?: string;
  children: (data: T) => ReactNode;
}): ReactNode {
  if (state.data !== undefined) return children(state.data);
  if (state.error?.notAvailable && feature)
    return <NotAvailable feature={feature} endpoint={endpoint ?? ""} />;
  if (state.error) return <ErrorBox error={state.error} retry={state.reload} what={what} />;
  return <Loading what={what} />;
}

const TONES: Record<string, string> = {
  pending: "warn",
  scheduled: "info",
  running: "info",
  succeeded: "ok",
  failed: "bad",
  cancelled: "muted",
  preempted: "warn",
  ready: "ok",
  draining: "warn",
  offline: "bad",
  enforcing: "info",
  met: "ok",
  unmet: "bad",
  ended: "muted",
  revoked: "bad",
  expired: "warn",
  proposed: "warn",
  approved: "ok",
  rejected: "bad",
};

/** A coloured state label (job, lease or node state). */
export function Badge({ state }: { state: string }): ReactNode {
  return <span className={`badge ${TONES[state] ?? "muted"}`}>{state}</span>;
}

/** A labelled form control. */
export function Field({
  label,
  hint,
  htmlFor,
  children,
}: {
  label: string;
  hint?: ReactNode;
  htmlFor: string;
  children: ReactNode;
}): ReactNode {
  return (
    <div className="field">
      <label htmlFor={htmlFor}>{label}</label>
      {children}
      {hint ? (
        <div className="hint" id={`${htmlFor}-hint`}>
          {hint}
        </div>
      ) : null}
    </div>
  );
}

/** A horizontal bar showing used against a limit, e.g. power draw against the contract. */
export function Meter({ value, max, label }: { value: number; max: number; label: string }): ReactNode {
  const pct = max > 0 ? Math.min(100, (value / max) * 100) : 0;
  const tone = pct >= 95 ? "bad" : pct >= 80 ? "warn" : "ok";
  return (
    <div
      className="meter"
      role="meter"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={max}
      aria-valuenow={value}
    >
      <div className={`meter-fill ${tone}`} style={{ width: `${Math.max(pct, value > 0 ? 1 : 0)}%` }} />
    </div>
  );
}
