/** POST /v1/plans: runs the conversion planner on a scenario and returns the same JSON as `zumbido plan --json`. */
import type { FastifyInstance } from "fastify";
import { invalid } from "../../domain/errors.js";
import { formatErrors, parseScenario, plan } from "../../planner/index.js";
import { OPS } from "../access.js";
import type { Services } from "../server.js";
import { DEFAULT_API_SETTINGS } from "../settings.js";

/** Query options of POST /v1/plans. */
interface PlansQuery {
  seed?: string;
  runs?: string;
  monthly?: string;
}

function intParam(name: string, v: string | undefined, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
    throw invalid(`query ${name} must be a whole number from ${min} to ${max}`, {
      errors: [
        { path: `query.${name}`, message: `must be a whole number from ${min} to ${max} (got "${v}")` },
      ],
    });
  }
  return Number(v);
}

/** Registers POST /v1/plans (operators and admins; Monte-Carlo runs capped per request). */
export async function plansRoutes(app: FastifyInstance, s?: Services): Promise<void> {
  const maxRuns = s?.api.planMaxRuns ?? DEFAULT_API_SETTINGS.planMaxRuns;
  app.post<{ Body: unknown; Querystring: PlansQuery }>(
    "/v1/plans",
    {
      config: { access: OPS, cost: "expensive" },
      schema: {
        tags: ["planner"],
        summary:
          "Plan a mining site's conversion (mining, AI hosting, GPU cloud, hybrid); body: scenario JSON (docs/planner.md)",
      },
    },
    async (req) => {
      const seed = intParam("seed", req.query.seed, 0, 4_294_967_295);
      const runs = intParam("runs", req.query.runs, 1, maxRuns);
      const r = parseScenario(req.body);
      if (!r.ok) {
        const errors = r.errors.map((e) => ({
          path: e.path ? `body.${e.path}` : "body",
          message: e.message,
        }));
        throw invalid(`the scenario is invalid: ${formatErrors(r.errors).replace(/\n/g, "; ")}`, { errors });
      }
      if (runs === undefined && r.scenario.monteCarlo.runs > maxRuns)
        throw invalid(`monteCarlo.runs may be at most ${maxRuns} per request on this server`, {
          errors: [
            {
              path: "body.monteCarlo.runs",
              message: `at most ${maxRuns} (got ${r.scenario.monteCarlo.runs}); run larger studies with \`zumbido plan\` locally`,
            },
          ],
        });
      return plan(r.scenario, {
        ...(seed !== undefined ? { seed } : {}),
        ...(runs !== undefined ? { runs } : {}),
        monthly: req.query.monthly === "true",
      });
    },
  );
}
