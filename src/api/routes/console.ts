import { existsSync, statSync } from "node:fs";
import { join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance, FastifyReply } from "fastify";
import type { Services } from "../server.js";

/** Where `npm run build:web` writes the console (dist/web at the repository root). */
export const CONSOLE_DIR = fileURLToPath(new URL("../../../dist/web", import.meta.url));

/** Paths the console never answers for: the API, its docs and the operational endpoints. */
const RESERVED = /^\/(v1(\/|$)|docs(\/|$)|openapi\.json$|metrics$|healthz$)/;

const MISSING_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Zumbido console not built</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; padding: 0 1rem; line-height: 1.5">
<h1>The web console is not built yet</h1>
<p>Build it once with <code>npm run build:web</code> (or start with <code>npm start</code>, which builds it when needed), then reload this page.</p>
<p>The API works without it: see <a href="/docs">/docs</a>.</p>
</body></html>
`;

/** Serves the web console from dist/web at `/` with a single-page-app fallback (never shadowing the API). */
export async function consoleRoutes(app: FastifyInstance, _services: Services): Promise<void> {
  await serveConsole(app, CONSOLE_DIR);
}

/** Serves a built console from `dir` (tests point it elsewhere); a plain "run npm run build:web" page when it is missing. */
export async function serveConsole(app: FastifyInstance, dir: string): Promise<void> {
  await app.register(fastifyStatic, { serve: false });

  const sendIndex = async (reply: FastifyReply): Promise<FastifyReply> => {
    if (!existsSync(join(dir, "index.html")))
      return reply.type("text/html; charset=utf-8").send(MISSING_PAGE);
    return reply
      .sendFile("index.html", dir, { maxAge: 0, immutable: false, cacheControl: false })
      .header("cache-control", "no-cache");
  };

  app.get("/", { config: { access: "public" }, schema: { hide: true } }, async (_req, reply) =>
    sendIndex(reply),
  );
  app.get("/*", { config: { access: "public" }, schema: { hide: true } }, async (req, reply) => {
    const path = req.url.split("?")[0]!;
    if (RESERVED.test(path) || RESERVED.test(canonicalPath(path))) return reply.callNotFound();
    const file = safeFile(dir, path);
    if (file) {
      const hashed = file.startsWith(`assets${sep}`);
      return reply.sendFile(file, dir, hashed ? { maxAge: "365d", immutable: true } : { maxAge: 0 });
    }
    // A missing build asset is a 404; any other path is a console route the app resolves itself.
    if (path.startsWith("/assets/")) return reply.callNotFound();
    return sendIndex(reply);
  });
}

/** A URL path decoded, lower-cased, with repeated slashes and dot segments resolved: `//V1/./x` -> `/v1/x`. */
function canonicalPath(urlPath: string): string {
  let p = urlPath;
  try {
    p = decodeURIComponent(urlPath);
  } catch {
    // undecodable: compare the raw path
  }
  const out: string[] = [];
  for (const seg of p.toLowerCase().split(/[/\\]+/)) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") out.pop();
    else out.push(seg.split(";")[0]!);
  }
  return `/${out.join("/")}`;
}

/** The file under dir that a URL path names, relative to dir, or null (missing, a folder, or outside dir). */
function safeFile(dir: string, urlPath: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  const rel = normalize(decoded).replace(/^[/\\]+/, "");
  if (rel === "" || rel.split(/[/\\]/).includes("..") || decoded.includes("\0")) return null;
  const full = join(dir, rel);
  if (!full.startsWith(dir + sep)) return null;
  try {
    return statSync(full).isFile() ? rel : null;
  } catch {
    return null;
  }
}
