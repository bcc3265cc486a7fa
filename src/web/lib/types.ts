// Shapes of the API's answers, as the console reads them: derived from the wire contract's zod
// schemas (src/contract), so the console, the CLI and the server cannot drift apart.
import type { CapacityOffer, SiteView } from "../../contract/index.js";

export type {
  Charge,
  GpuModelInfo,
  Job,
  JobEvent,
  JobView,
  LogLine,
  Me,
  OperatorGpuModel,
  OperatorSummary,
  PriceView as Price,
  SiteSummary,
  Utilisation,
} from "../../contract/index.js";

/** One row of GET /v1/capacity: a site's offer for one GPU model. */
export type Offer = CapacityOffer;

/** GET /v1/sites */
export type Site = SiteView;
