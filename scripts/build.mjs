// Builds what the package ships: the web console (src/web -> dist/web, when stale) and the
// server, agent and CLI compiled to JavaScript (src -> lib, tsconfig.build.json), so an installed
// `zumbido` runs with plain Node and no TypeScript loader. Run by `npm run build` and `npm pack`.
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const started = Date.now();

/** Runs node with these arguments in the repository root; exits with its status on failure. */
function node(args, what) {
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: "inherit" });
  if (r.status !== 0) {
    console.error(`build: ${what} failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status || 1);
  }
}

node([join(root, "scripts", "ensure-web.mjs")], "the web console build");
rmSync(join(root, "lib"), { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
node([tsc, "-p", join(root, "tsconfig.build.json")], "compiling src to lib");
console.log(
  `build: console in dist/web, JavaScript in lib/ (${((Date.now() - started) / 1000).toFixed(1)} s)`,
);
