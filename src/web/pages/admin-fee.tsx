import { useEffect, useState, type FormEvent, type ReactNode } from "react";
import { api, ApiError } from "../lib/api.js";
import { num } from "../lib/format.js";
import { useApi } from "../lib/use-api.js";
import { Card, ErrorBox, Field, Loaded, PageHeader, Stat } from "../components/ui.js";

/** Admin: the platform fee, in basis points of what tenants pay operators. */
export function FeePage(): ReactNode {
  const fee = useApi<{ feeBps: number }>("/v1/settings/fee");
  const [bps, setBps] = useState("");
  const [error, setError] = useState<ApiError | null>(null);
  const [saved, setSaved] = useState(false);
  useEffect(() => {
    if (fee.data) setBps(String(fee.data.feeBps));
  }, [fee.data]);
  const save = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(null);
    setSaved(false);
    try {
      await api("PUT", "/v1/settings/fee", { feeBps: Number(bps) });
      setSaved(true);
      fee.reload();
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(0, String(err)));
    }
  };
  return (
    <>
      <PageHeader
        title="Platform fee"
        subtitle="The marketplace's share of each charge, taken from the operator's side; tenants pay the listed price."
      />
      <Loaded state={fee} what="the fee">
        {(f) => (
          <>
            <div className="stats">
              <Stat
                label="Current fee"
                value={`${num(f.feeBps / 100, 2)}%`}
                hint={`${f.feeBps} basis points`}
              />
              <Stat
                label="Operator keeps"
                value={`${num(100 - f.feeBps / 100, 2)}%`}
                hint="of every charge"
              />
            </div>
            <Card title="Change the fee">
              <form
                className="inline-form"
                onSubmit={(e) => void save(e)}
                aria-label="Change the platform fee"
              >
                <Field
                  label="Fee, basis points"
                  htmlFor="fee-bps"
                  hint={`= ${num(Number(bps) / 100 || 0, 2)}%. 0 to 5000 (50%).`}
                >
                  <input
                    id="fee-bps"
                    type="number"
                    min={0}
                    max={5000}
                    step={1}
                    value={bps}
                    onChange={(e) => setBps(e.target.value)}
                  />
                </Field>
                <button className="btn primary" type="submit">
                  Save fee
                </button>
              </form>
              {saved ? (
                <p className="notice" role="status">
                  Saved. It applies to charges from now on.
                </p>
              ) : null}
              {error ? <ErrorBox error={error} /> : null}
            </Card>
          </>
        )}
      </Loaded>
    </>
  );
}
