import { useState, type ReactNode } from "react";

/** A new secret, shown once, with a copy button. */
export function ShownOnce({ secret, what }: { secret: string; what: string }): ReactNode {
  const [copied, setCopied] = useState(false);
  return (
    <div className="state secret" role="status">
      <strong>{what}: copy it now, it is not shown again.</strong>
      <div className="row">
        <code className="mono secret-text" data-testid="new-secret">
          {secret}
        </code>
        <button
          type="button"
          className="btn small"
          onClick={() => void navigator.clipboard?.writeText(secret).then(() => setCopied(true))}
        >
          {copied ? "Copied" : "Copy"}
        </button>
      </div>
    </div>
  );
}
