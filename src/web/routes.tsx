import type { ReactNode } from "react";
import { match } from "./lib/router.js";
import type { Me } from "./lib/types.js";
import { Empty } from "./components/ui.js";
import { Link } from "./lib/router.js";
import { homeFor } from "./nav.js";
import { CapacityPage } from "./pages/capacity.js";
import { SubmitPage } from "./pages/submit.js";
import { JobsPage } from "./pages/jobs.js";
import { JobPage } from "./pages/job.js";
import { BillingPage } from "./pages/billing.js";
import { OperatorPage } from "./pages/operator.js";
import { SitePage } from "./pages/site.js";
import { PricesPage } from "./pages/prices.js";
import { CurtailmentsPage } from "./pages/curtailments.js";
import { IndicatorsPage } from "./pages/indicators.js";
import { PlannerPage } from "./pages/planner.js";
import { OperatorsPage, TenantsPage } from "./pages/admin-accounts.js";
import { KeysPage } from "./pages/admin-keys.js";
import { FeePage } from "./pages/admin-fee.js";
import { GpuModelsPage } from "./pages/gpu-models.js";

type Role = Me["role"];
interface Route {
  pattern: string;
  roles: Role[];
  page: (params: Record<string, string>, me: Me) => ReactNode;
}

const OPS: Role[] = ["operator", "admin"];
const ROUTES: Route[] = [
  { pattern: "/capacity", roles: ["tenant", "admin"], page: () => <CapacityPage /> },
  { pattern: "/submit", roles: ["tenant"], page: () => <SubmitPage /> },
  { pattern: "/jobs", roles: ["tenant", "admin"], page: (_p, me) => <JobsPage me={me} /> },
  {
    pattern: "/jobs/:id",
    roles: ["tenant", "admin", "operator"],
    page: (p, me) => <JobPage id={p.id!} me={me} />,
  },
  { pattern: "/billing", roles: ["tenant"], page: () => <BillingPage /> },
  { pattern: "/operator", roles: OPS, page: () => <OperatorPage /> },
  { pattern: "/operator/sites/:id", roles: OPS, page: (p) => <SitePage id={p.id!} /> },
  { pattern: "/operator/prices", roles: OPS, page: () => <PricesPage /> },
  { pattern: "/operator/curtailments", roles: OPS, page: () => <CurtailmentsPage /> },
  { pattern: "/operator/indicators", roles: OPS, page: () => <IndicatorsPage /> },
  { pattern: "/operator/gpu-models", roles: OPS, page: (_p, me) => <GpuModelsPage me={me} /> },
  { pattern: "/planner", roles: OPS, page: () => <PlannerPage /> },
  { pattern: "/admin/operators", roles: ["admin"], page: () => <OperatorsPage /> },
  { pattern: "/admin/tenants", roles: ["admin"], page: () => <TenantsPage /> },
  { pattern: "/admin/keys", roles: ["admin"], page: () => <KeysPage /> },
  { pattern: "/admin/fee", roles: ["admin"], page: () => <FeePage /> },
];

/** The page for a path, or a friendly "not here" / "not for your role". */
export function Routes({ me, path }: { me: Me; path: string }): ReactNode {
  for (const r of ROUTES) {
    const params = match(r.pattern, path);
    if (!params) continue;
    if (!r.roles.includes(me.role))
      return (
        <Empty title="This page is not for your role.">
          You are signed in with a <strong>{me.role}</strong> key.{" "}
          <Link to={homeFor(me.role)}>Go to your start page</Link>, or sign out and use another key.
        </Empty>
      );
    return r.page(params, me);
  }
  return (
    <Empty title="There is no page here.">
      Check the address, or <Link to={homeFor(me.role)}>go to your start page</Link>.
    </Empty>
  );
}
