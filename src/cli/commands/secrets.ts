import { readFileSync } from "node:fs";
import type { Command } from "commander";
import type { SecretView } from "../../contract/index.js";
import { action, clientFor, output, table, time, UsageError } from "../context.js";

/** Collects a repeatable option's values. */
export const repeat = (v: string, prev: string[] = []): string[] => [...prev, v];

/** A secret read from a file or stdin, without the one trailing new line editors and `echo` add. */
const chomp = (s: string): string => s.replace(/\r?\n$/, "");

/**
 * The secret env values a `jobs submit` asks for: `--secret-env NAME=VALUE`, `--secret-env NAME=@FILE`
 * (the file's content) and `--secret-env-from-env NAME` or `NAME=VAR` (this shell's variable), so a
 * value need not sit in the shell's history.
 */
export function secretEnvFrom(
  pairs: string[],
  fromEnv: string[],
  env: Record<string, string | undefined> = process.env,
): Record<string, string> {
  const out: Record<string, string> = {};
  const put = (name: string, value: string, flag: string): void => {
    if (Object.hasOwn(out, name)) throw new UsageError(`${flag}: ${name} is given twice`);
    out[name] = value;
  };
  for (const kv of pairs) {
    const i = kv.indexOf("=");
    if (i < 1) throw new UsageError(`--secret-env "${kv.slice(0, 40)}" is not NAME=VALUE or NAME=@FILE`);
    const name = kv.slice(0, i);
    const value = kv.slice(i + 1);
    if (!value.startsWith("@")) put(name, value, "--secret-env");
    else {
      const file = value.slice(1);
      let text: string;
      try {
        text = readFileSync(file, "utf8");
      } catch (err) {
        throw new UsageError(
          `--secret-env ${name}=@${file}: cannot read ${file} (${(err as NodeJS.ErrnoException).code})`,
        );
      }
      put(name, chomp(text), "--secret-env");
    }
  }
  for (const spec of fromEnv) {
    const [name, variable = name] = spec.split("=", 2) as [string, string?];
    const value = env[variable];
    if (value === undefined)
      throw new UsageError(
        `--secret-env-from-env ${spec}: the variable ${variable} is not set in this shell`,
      );
    put(name, value, "--secret-env-from-env");
  }
  return out;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** `zumbido secrets ...`: store, list and delete your named secrets (registry logins). */
export function registerSecretsCommands(program: Command): void {
  const secrets = program
    .command("secrets")
    .description("your named secrets, e.g. private registry logins (tenant; values are never shown back)");

  secrets
    .command("create-registry")
    .description(
      "store a private registry's login: echo $NGC_API_KEY | zumbido secrets create-registry ngc --registry nvcr.io --username '$oauthtoken' --password-stdin",
    )
    .argument("<name>", "a name for it, e.g. ngc (jobs use it with --registry-secret)")
    .requiredOption("--registry <host>", "the registry's host[:port], e.g. nvcr.io or ghcr.io")
    .requiredOption("--username <user>", "the registry user name")
    .option("--password-stdin", "read the password or token from standard input")
    .option("--password-env <VAR>", "read the password or token from this shell's variable VAR")
    .action(
      action(
        async (
          name: string,
          o: { registry: string; username: string; passwordStdin?: boolean; passwordEnv?: string },
          cmd: Command,
        ) => {
          if (Boolean(o.passwordStdin) === Boolean(o.passwordEnv))
            throw new UsageError(
              "give the password with --password-stdin or --password-env VAR (never on the command line)",
            );
          const password = o.passwordStdin ? chomp(await readStdin()) : process.env[o.passwordEnv!];
          if (!password)
            throw new UsageError(
              o.passwordStdin
                ? "standard input was empty: pipe the password in"
                : `${o.passwordEnv} is not set`,
            );
          const s = await clientFor(cmd).post<SecretView>("/v1/secrets", {
            name,
            type: "registry",
            registry: o.registry,
            username: o.username,
            password,
          });
          output(
            cmd,
            s,
            (x: SecretView) =>
              `stored registry secret ${x.name} for ${x.registry}; use it with: zumbido jobs submit --image ${x.registry}/... --registry-secret ${x.name}`,
          );
        },
      ),
    );

  secrets
    .command("list")
    .description("your named secrets (names and registries only)")
    .action(
      action(async (_o: unknown, cmd: Command) => {
        const list = await clientFor(cmd).get<SecretView[]>("/v1/secrets");
        output(cmd, list, (l: SecretView[]) =>
          table(
            ["NAME", "TYPE", "REGISTRY", "CREATED"],
            l.map((s) => [s.name, s.type, s.registry, time(s.createdAt)]),
          ),
        );
      }),
    );

  secrets
    .command("delete")
    .description("delete a named secret (jobs naming it that have not started yet will fail)")
    .argument("<name>")
    .action(
      action(async (name: string, _o: unknown, cmd: Command) => {
        await clientFor(cmd).delete(`/v1/secrets/${encodeURIComponent(name)}`);
        output(cmd, { deleted: name }, () => `deleted secret ${name}`);
      }),
    );
}
