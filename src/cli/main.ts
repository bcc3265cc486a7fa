import { Command } from "commander";
import { registerCommands } from "./commands/index.js";

const program = new Command();
program
  .name("zumbido")
  .description("Zumbido: an open GPU cloud for converted mining farms")
  .version("0.1.0")
  .showHelpAfterError();
registerCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  const e = err as Error & { code?: string };
  console.error(`zumbido: ${e.message}`);
  process.exitCode = process.exitCode && process.exitCode !== 0 ? process.exitCode : 1;
}
