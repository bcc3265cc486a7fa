/** The ledger's HTTP side: invoices, payout statements, top-ups, month closing, balances, charge runs. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { requireRole } from "../../control/context.js";
import { ledgerServiceFor, MAX_TOPUP_MINOR } from "../../control/ledger-service.js";
import { invalid } from "../../domain/index.js";
import { renderInvoiceCsv, renderInvoiceHtml, renderJson, renderPayoutCsv } from "../../ledger/index.js";
import { who } from "../auth.js";
import type { Services } from "../server.js";
import { ADMIN, OPS, TENANTS } from "../access.js";

/** How often the server charges fresh usage into the ledger. */
export const CHARGE_INTERVAL_MS = 10_000;

const Month = z.object({ month: z.string().describe("YYYY-MM") });
const Format = z.enum(["json", "csv", "html"]);

type Fmt = z.infer<typeof Format>;

/** The format asked for: `?format=` wins, then the Accept header, else JSON. */
function formatOf(req: FastifyRequest, q: Fmt | undefined, allowed: readonly Fmt[]): Fmt {
  let f: Fmt = "json";
  if (q) f = q;
  else {
    const accept = String(req.headers.accept ?? "");
    if (accept.includes("text/csv")) f = "csv";
    else if (accept.includes("text/html")) f = "html";
  }
  if (!allowed.includes(f))
    throw invalid(`format ${f} is not offered here; use one of ${allowed.join(", ")}`, { field: "format" });
  return f;
}

function send(reply: FastifyReply, f: Fmt, body: string, filename: string): FastifyReply {
  const type =
    f === "csv"
      ? "text/csv; charset=utf-8"
      : f === "html"
        ? "text/html; charset=utf-8"
        : "application/json; charset=utf-8";
  if (f === "csv") void reply.header("content-disposition", `attachment; filename="${filename}.csv"`);
  return reply.type(type).send(body);
}

/** Registers the billing routes and the periodic charge run (started when the server is ready, stopped on close). */
export async function billingRoutes(app: FastifyInstance, services: Services): Promise<void> {
  const ledger = ledgerServiceFor(services.ctx);
  const r = app.withTypeProvider<ZodTypeProvider>();
  app.addHook("onReady", async () => ledger.start(CHARGE_INTERVAL_MS));
  app.addHook("onClose", async () => ledger.stop());

  r.get(
    "/v1/invoices/:month",
    {
      config: { access: TENANTS, cost: "expensive" },
      schema: {
        tags: ["billing"],
        summary:
          "A tenant's invoice for a month (tenant: own; admin: ?tenantId=); JSON, or ?format=csv|html or Accept",
        params: Month,
        querystring: z.object({
          tenantId: z.string().optional(),
          currency: z.string().optional(),
          format: Format.optional(),
        }),
      },
    },
    async (req, reply) => {
      const f = formatOf(req, req.query.format, ["json", "csv", "html"]);
      const inv = await ledger.invoice(who(req), req.params.month, {
        ...(req.query.tenantId ? { tenantId: req.query.tenantId } : {}),
        ...(req.query.currency ? { currency: req.query.currency } : {}),
      });
      const body =
        f === "csv" ? renderInvoiceCsv(inv) : f === "html" ? renderInvoiceHtml(inv) : renderJson(inv);
      return send(reply, f, body, inv.number);
    },
  );

  r.get(
    "/v1/payouts/:month",
    {
      config: { access: OPS },
      schema: {
        tags: ["billing"],
        summary:
          "An operator's payout statement for a month (operator: own; admin: ?operatorId=); JSON or ?format=csv",
        params: Month,
        querystring: z.object({
          operatorId: z.string().optional(),
          currency: z.string().optional(),
          format: Format.optional(),
        }),
      },
    },
    async (req, reply) => {
      const f = formatOf(req, req.query.format, ["json", "csv"]);
      const st = await ledger.payout(who(req), req.params.month, {
        ...(req.query.operatorId ? { operatorId: req.query.operatorId } : {}),
        ...(req.query.currency ? { currency: req.query.currency } : {}),
      });
      return send(
        reply,
        f,
        f === "csv" ? renderPayoutCsv(st) : renderJson(st),
        `payout-${st.operatorId}-${st.period}-${st.currency}`,
      );
    },
  );

  r.post(
    "/v1/tenants/:id/topups",
    {
      config: { access: ADMIN },
      schema: {
        tags: ["billing"],
        summary: "Credit a tenant's prepaid balance (admin); idempotent on idempotencyKey",
        params: z.object({ id: z.string() }),
        body: z
          .object({
            amountMinor: z
              .number()
              .int()
              .positive()
              .max(MAX_TOPUP_MINOR)
              .describe("minor units (cents), at most 10^12"),
            idempotencyKey: z.string().min(1).max(100).optional(),
            via: z
              .string()
              .min(1)
              .max(40)
              .optional()
              .describe("external account the money came through, e.g. psp; default cash"),
            memo: z.string().max(200).optional(),
          })
          .strict(),
      },
    },
    async (req, reply) => {
      const res = await ledger.topup(who(req), req.params.id, req.body);
      return reply.status(res.appended ? 201 : 200).send(res);
    },
  );

  r.post(
    "/v1/periods/:month/close",
    {
      config: { access: ADMIN },
      schema: {
        tags: ["billing"],
        summary:
          "Close a month that has ended (admin): charge everything, then send late usage to the next month",
        params: Month,
      },
    },
    async (req) => ledger.closeMonth(who(req), req.params.month),
  );

  r.get(
    "/v1/ledger/balances",
    {
      config: { access: ADMIN },
      schema: { tags: ["billing"], summary: "Every ledger account's balance and the trial balance (admin)" },
    },
    async (req) => ledger.balances(who(req)),
  );

  r.post(
    "/v1/ledger/charge",
    {
      config: { access: ADMIN, cost: "expensive" },
      schema: {
        tags: ["billing"],
        summary: "Charge fresh usage into the ledger now (admin); ?all=true looks at every lease",
        querystring: z.object({ all: z.enum(["true", "false"]).optional() }),
      },
    },
    async (req) => {
      requireRole(who(req), "admin");
      return ledger.charge({ all: req.query.all === "true" });
    },
  );
}
