import { useState, type ReactNode } from "react";
import { api, ApiError } from "../lib/api.js";
import { when } from "../lib/format.js";
import type { Me, OperatorGpuModel } from "../lib/types.js";
import { useApi } from "../lib/use-api.js";
import { Badge, Card, Empty, ErrorBox, Loaded, PageHeader } from "../components/ui.js";

/**
 * Operator-defined GPU models: an admin approves or rejects proposals (with a reason); an operator
 * sees the state of its own proposals and every approved model. Proposing is `zumbido gpu-models
 * propose` or POST /v1/gpu-models.
 */
export function GpuModelsPage({ me }: { me: Me }): ReactNode {
  const models = useApi<OperatorGpuModel[]>("/v1/gpu-models/proposals");
  const admin = me.role === "admin";
  return (
    <>
      <PageHeader
        title="GPU models"
        subtitle={
          admin
            ? "Cards operators proposed for the catalogue. An approved model is placed, priced and power-budgeted at once; a rejection tells the operator why."
            : "Your proposed GPU models and every approved one. A node with a card the built-in catalogue lacks is sold once an admin approves its model."
        }
      />
      <Loaded state={models} what="GPU models">
        {(ms) =>
          ms.length === 0 ? (
            <Empty title="No operator-defined GPU models yet.">
              Propose one with <code>zumbido gpu-models propose</code> (see docs/install.md).
            </Empty>
          ) : (
            <Card title={admin ? "Proposals and decisions" : "Proposals"}>
              <div className="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th>Model</th>
                      <th>Name</th>
                      <th className="num">Memory</th>
                      <th className="num">Power</th>
                      <th>Driver name matches</th>
                      <th>State</th>
                      <th>Proposed</th>
                      {admin ? <th>Decision</th> : null}
                    </tr>
                  </thead>
                  <tbody>
                    {ms.map((m) => (
                      <ModelRow key={m.id} model={m} admin={admin} onDecided={models.reload} />
                    ))}
                  </tbody>
                </table>
              </div>
            </Card>
          )
        }
      </Loaded>
    </>
  );
}

function ModelRow({
  model: m,
  admin,
  onDecided,
}: {
  model: OperatorGpuModel;
  admin: boolean;
  onDecided: () => void;
}): ReactNode {
  const [reason, setReason] = useState("");
  const [error, setError] = useState<ApiError | null>(null);
  const decide = async (decision: "approve" | "reject"): Promise<void> => {
    setError(null);
    if (decision === "reject" && !reason.trim())
      return setError(
        new ApiError(400, "Say why the model is rejected, so the operator can fix the proposal.", [
          { path: "reason", message: "a reason like “power figure is the TGP, not the board limit”" },
        ]),
      );
    try {
      await api(
        "POST",
        `/v1/gpu-models/${encodeURIComponent(m.id)}/${decision}`,
        decision === "reject" ? { reason: reason.trim() } : undefined,
      );
      onDecided();
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(0, String(err)));
    }
  };
  return (
    <tr data-testid={`gpu-model-${m.id}`}>
      <td>
        <strong>{m.id}</strong> <span className="muted">{m.vendor}</span>
      </td>
      <td>{m.name}</td>
      <td className="num">{m.memoryGb} GB</td>
      <td className="num">{m.tdpW} W</td>
      <td>{m.smiPatterns.join(", ")}</td>
      <td>
        <Badge state={m.state} />
        {m.reason ? <div className="hint">{m.reason}</div> : null}
      </td>
      <td>
        {when(m.proposedAt)}
        {m.proposedBy ? <div className="hint">by {m.proposedBy}</div> : null}
      </td>
      {admin ? (
        <td>
          {m.state === "proposed" ? (
            <div className="inline-form">
              <button
                type="button"
                className="btn small primary"
                aria-label={`Approve ${m.id}`}
                onClick={() => void decide("approve")}
              >
                Approve
              </button>
              <input
                aria-label={`Reason to reject ${m.id}`}
                placeholder="reason to reject"
                value={reason}
                onChange={(e) => setReason(e.target.value)}
              />
              <button
                type="button"
                className="btn small"
                aria-label={`Reject ${m.id}`}
                onClick={() => void decide("reject")}
              >
                Reject
              </button>
            </div>
          ) : m.decidedAt ? (
            <span className="muted">{when(m.decidedAt)}</span>
          ) : null}
          {error ? <ErrorBox error={error} /> : null}
        </td>
      ) : null}
    </tr>
  );
}
