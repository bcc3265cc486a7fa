// Builds the web console (src/web -> dist/web) when the build is missing or older than its sources.
// Placeholder until the console lands: succeeds without building when src/web has no vite config.
import { existsSync } from "node:fs";
if (!existsSync("src/web/vite.config.ts")) process.exit(0);
