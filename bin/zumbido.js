#!/usr/bin/env node
// Entry point of the `zumbido` command. An installed package runs the compiled JavaScript in lib/
// (`npm run build`, done by `npm pack`); a source checkout runs the TypeScript in src/ through
// tsx's loader, so a stale lib/ never shadows the sources being edited.
import { existsSync } from "node:fs";

const source = new URL("../src/cli/main.ts", import.meta.url);
if (existsSync(source)) {
  const { register } = await import("tsx/esm/api");
  register();
  await import(source.href);
} else {
  await import("../lib/cli/main.js");
}
