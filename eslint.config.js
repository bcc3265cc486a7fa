// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const CORES = ["domain", "scheduler", "energy", "ledger", "planner"];
const SHELLS = ["store", "control", "api", "agent", "sim", "cli", "web"];

export default tseslint.config(
  {
    ignores: [
      "node_modules/**",
      "dist/**",
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
            message: `The ${core} core is pure: it must not import the ${s} shell (DESIGN.md, "Imports point inward").`,
          })),
        },
      ],
      "no-restricted-globals": [
        "error",
        { name: "Date", message: "Cores take time as an argument (inject the clock)." },
        { name: "setTimeout", message: "Cores have no timers." },
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
          message: "Config is parsed once in main() (CONVENTIONS.md 10).",
        },
      ],
    },
  })),
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
