// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";

// The rules below are explained in ARCHITECTURE.md ("Rules the linter keeps").
const CORES = ["domain", "scheduler", "energy", "ledger", "planner"];
const SHELLS = ["store", "control", "api", "agent", "sim", "cli", "web"];
/** Import paths of a top-level src folder, as written from one or two levels below src/. */
const under = (dir) => [
  `../${dir}`,
  `../${dir}/*`,
  `../../${dir}`,
  `../../${dir}/*`,
  `../../../${dir}`,
  `../../../${dir}/*`,
];
/** Node modules a pure core must not use: no files, no wall-clock timing. */
const IO_MODULES = ["node:fs", "node:fs/*", "fs", "fs/*", "node:perf_hooks", "perf_hooks"];

export default tseslint.config(
  {
    ignores: [
      "node_modules/**",
      "dist/**",
      "lib/**",
      "web/dist/**",
      ".zumbido/**",
      "coverage/**",
      "**/*.js",
      "**/*.mjs",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/restrict-template-expressions": [
        "error",
        { allowNumber: true, allowBoolean: true },
      ],
      "@typescript-eslint/no-unnecessary-type-assertion": "off",
      // Fastify plugins and route handlers are async by contract, awaited or not.
      "@typescript-eslint/require-await": "off",
    },
  },
  // Imports point inward: pure cores never import a shell.
  ...CORES.map((core) => ({
    files: [`src/${core}/**/*.ts`],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: SHELLS.map((s) => ({
            group: [`../${s}/*`, `../../${s}/*`, `../${s}`, `../../${s}`],
            message: `The ${core} core is pure: it must not import the ${s} shell (ARCHITECTURE.md, "Imports point inward").`,
          })).concat([
            {
              group: IO_MODULES,
              message: `The ${core} core is pure: no file I/O or wall-clock timing (ARCHITECTURE.md, "Pure cores"); take data and time as arguments.`,
            },
          ]),
        },
      ],
      "no-restricted-globals": [
        "error",
        { name: "Date", message: "Cores take time as an argument (inject the clock)." },
        { name: "setTimeout", message: "Cores have no timers." },
        { name: "performance", message: "Cores take time as an argument; time things in the shells." },
      ],
      "no-restricted-properties": [
        "error",
        {
          object: "Math",
          property: "random",
          message: "Cores take randomness as an argument (inject a seeded RNG).",
        },
        { object: "Date", property: "now", message: "Cores take time as an argument (inject the clock)." },
        {
          object: "process",
          property: "env",
          message: 'Config is parsed once in main() (ARCHITECTURE.md, "Pure cores").',
        },
        {
          object: "performance",
          property: "now",
          message: "Cores take time as an argument; time things in the shells.",
        },
      ],
    },
  })),
  // The API is transport: parse, authorise, call a control service, shape the answer. It never
  // reads the store itself (ARCHITECTURE.md, "The API is transport").
  {
    files: ["src/api/**/*.ts"],
    ignores: ["**/*.test.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: under("store"),
              message:
                'src/api must not import the store: move the read into a control service (ARCHITECTURE.md, "The API is transport").',
            },
          ],
        },
      ],
      "no-restricted-syntax": [
        "error",
        {
          selector: "MemberExpression[property.name='store']",
          message:
            'src/api must not reach the store (ctx.store): call a control service instead (ARCHITECTURE.md, "The API is transport").',
        },
      ],
    },
  },
  // The console runs in the browser: no server code (ARCHITECTURE.md, "The console").
  {
    files: ["src/web/**/*.ts", "src/web/**/*.tsx"],
    ignores: ["src/web/vite.config.ts", "**/*.test.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: [
                ...["api", "control", "store", "agent", "cli", "sim"].flatMap(under),
                "../../server.js",
                "../../main.js",
                "../../config.js",
              ],
              message:
                'The console runs in the browser: import wire types from src/contract, helpers from src/domain, never server code (ARCHITECTURE.md, "The console").',
            },
            {
              group: [
                "node:*",
                "fastify",
                "fastify-*",
                "@fastify/*",
                "kysely",
                "pg",
                "better-sqlite3",
                "pino",
              ],
              message:
                'The console runs in the browser: no Node or server packages (ARCHITECTURE.md, "The console").',
            },
          ],
        },
      ],
    },
  },
  {
    files: ["**/*.test.ts", "test/**/*.ts", "bench/**/*.ts"],
    rules: {
      "@typescript-eslint/no-non-null-assertion": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-return": "off",
      "@typescript-eslint/no-explicit-any": "off",
      "no-restricted-globals": "off",
      "no-restricted-properties": "off",
    },
  },
);
