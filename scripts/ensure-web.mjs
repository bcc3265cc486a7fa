// Builds the web console (src/web -> dist/web) when the build is missing or older than its sources.
// Run by `npm start`, `npm test` and `npm run test:browser` before they start; prints one line when it builds.
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const src = join(root, "src", "web");
const config = join(src, "vite.config.ts");
const index = join(root, "dist", "web", "index.html");
// The planner page bundles the example scenarios.
const extra = [
  join(root, "examples", "plans"),
  join(root, "src", "domain", "money.ts"),
  join(root, "src", "domain", "countries.ts"),
];

if (!existsSync(config)) process.exit(0);

/** Newest modification time (ms) of the files under a path, tests excluded. */
function newest(path) {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return /\.test\.tsx?$/.test(path) ? 0 : st.mtimeMs;
  let max = 0;
  for (const name of readdirSync(path)) max = Math.max(max, newest(join(path, name)));
  return max;
}

const built = existsSync(index) ? statSync(index).mtimeMs : 0;
const sources = Math.max(newest(src), ...extra.map(newest));
if (built >= sources) process.exit(0);

const started = Date.now();
try {
  const { build } = await import("vite");
  await build({ configFile: config, logLevel: "error" });
} catch (err) {
  console.error(
    `zumbido: building the web console failed: ${err instanceof Error ? err.message : String(err)}; run \`npm run build:web\` to see the details`,
  );
  process.exit(1);
}
console.log(
  `ensure-web: built the console into dist/web (${built ? "sources changed" : "no build yet"}) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
);
