// fast-check arbitraries from the JSON schemas in /openapi.json: values that follow the schema, nasty
// values that do not (NUL bytes, lone surrogates, huge numbers, wrong types), and objects that mix both.
import fc from "fast-check";

/** A JSON schema as /openapi.json gives it (the subset the fuzz suite reads). */
export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
  nullable?: boolean;
  $ref?: string;
}

/** Strings no store can keep, or that parsers trip on. */
export const nastyString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    "\u0000",
    "a\u0000b",
    "\uD800",
    "x\uDC00y",
    "\uDBFF\uDBFF",
    "",
    " ",
    "%00",
    "../../etc/passwd",
    "'; drop table jobs; --",
    "\u202E\uFEFF",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "NaN",
    "2026-13",
    "9999-99",
    "0000-00",
  ),
  fc.string({ unit: "binary", maxLength: 12 }),
  fc.string({ minLength: 300, maxLength: 5000 }),
);

/** Numbers at and past the edges of what JSON, JavaScript and the stores hold. */
export const nastyNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(
    0,
    -0,
    -1,
    0.5,
    -1e-300,
    1e308,
    -1e308,
    2 ** 31,
    2 ** 53 - 1,
    2 ** 53 + 2,
    2 ** 63,
    -(2 ** 63),
    1e21,
    Number.MAX_VALUE,
    Number.MIN_VALUE,
  ),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
);

/** Any JSON value of a wrong shape: nasty strings and numbers, booleans, null, arrays, objects. */
export const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
  nastyString,
  nastyNumber,
  fc.boolean(),
  fc.constant(null),
  fc.constant([]),
  fc.constant({}),
  fc.array(nastyString, { maxLength: 3 }),
  fc.dictionary(nastyString, nastyNumber, { maxKeys: 3 }),
  fc.json({ maxDepth: 3 }).map((s) => JSON.parse(s) as unknown),
);

/** Resolves `#/components/schemas/X` references against the document. */
export function resolver(doc: { components?: { schemas?: Record<string, JsonSchema> } }) {
  return (s: JsonSchema): JsonSchema => {
    let cur = s;
    for (let i = 0; cur.$ref && i < 10; i++) {
      const name = cur.$ref.split("/").pop()!;
      cur = doc.components?.schemas?.[name] ?? {};
    }
    return cur;
  };
}

/**
 * Values for a schema: mostly valid, with `bad` the weight of a nasty value at each level (so objects
 * come out valid but for one field, two fields, or entirely wrong).
 */
export function fromSchema(
  schema: JsonSchema,
  resolve: (s: JsonSchema) => JsonSchema,
  bad = 1,
  depth = 0,
): fc.Arbitrary<unknown> {
  const valid = validFor(resolve(schema), resolve, bad, depth);
  return fc.oneof({ arbitrary: valid, weight: 6 }, { arbitrary: nastyValue, weight: bad });
}

function validFor(
  s: JsonSchema,
  resolve: (s: JsonSchema) => JsonSchema,
  bad: number,
  depth: number,
): fc.Arbitrary<unknown> {
  if (depth > 6) return fc.constant(null);
  if (s.const !== undefined) return fc.constant(s.const);
  if (s.enum) return fc.constantFrom(...s.enum);
  const alts = s.anyOf ?? s.oneOf;
  if (alts?.length) return fc.oneof(...alts.map((a) => validFor(resolve(a), resolve, bad, depth + 1)));
  if (s.allOf?.length) return validFor(resolve(s.allOf[0]!), resolve, bad, depth + 1);
  const types = Array.isArray(s.type) ? s.type : s.type ? [s.type] : [];
  const pick = types.find((t) => t !== "null") ?? (s.properties ? "object" : undefined);
  let arb: fc.Arbitrary<unknown>;
  switch (pick) {
    case "string": {
      const min = s.minLength ?? 0;
      const max = Math.max(min, Math.min(s.maxLength ?? 24, 64));
      arb =
        s.pattern === "^[A-Za-z]{2}$"
          ? fc.constantFrom("ES", "FI", "PY", "DE", "xx")
          : fc.string({ minLength: min, maxLength: max });
      break;
    }
    case "integer": {
      const lo = s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : -1000);
      const hi = s.maximum ?? (s.exclusiveMaximum !== undefined ? s.exclusiveMaximum - 1 : lo + 1_000_000);
      arb = fc.oneof(
        fc.integer({ min: Math.max(lo, -(2 ** 31)), max: Math.min(hi, 2 ** 31) }),
        fc.constantFrom(lo, hi).filter((x) => Number.isSafeInteger(x)),
      );
      break;
    }
    case "number": {
      const lo = s.minimum ?? s.exclusiveMinimum ?? -1e6;
      const hi = s.maximum ?? s.exclusiveMaximum ?? lo + 1e6;
      arb = fc.double({ min: lo, max: hi, noNaN: true, noDefaultInfinity: true });
      break;
    }
    case "boolean":
      arb = fc.boolean();
      break;
    case "array": {
      const item = s.items ? fromSchema(s.items, resolve, bad, depth + 1) : nastyValue;
      arb = fc.array(item, {
        minLength: s.minItems ?? 0,
        maxLength: Math.max(s.minItems ?? 0, Math.min(s.maxItems ?? 4, 6)),
      });
      break;
    }
    case "object": {
      const props = Object.entries(s.properties ?? {});
      const required = new Set(s.required ?? []);
      const fields = Object.fromEntries(
        props.map(([k, v]) => [
          k,
          fc.option(fromSchema(v, resolve, bad, depth + 1), {
            nil: undefined,
            freq: required.has(k) ? 12 : 2,
          }),
        ]),
      );
      const extra =
        s.additionalProperties && typeof s.additionalProperties === "object"
          ? fc.dictionary(
              fc.string({ maxLength: 8 }),
              fromSchema(s.additionalProperties, resolve, bad, depth + 1),
              { maxKeys: 3 },
            )
          : fc.oneof(
              { arbitrary: fc.constant({}), weight: 8 },
              { arbitrary: fc.dictionary(nastyString, nastyValue, { maxKeys: 2 }), weight: 1 },
            );
      arb = fc.tuple(fc.record(fields), extra).map(([o, x]) => {
        const out: Record<string, unknown> = { ...x };
        for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
        return out;
      });
      break;
    }
    default:
      arb = nastyValue;
  }
  return types.includes("null") || s.nullable ? fc.oneof(arb, fc.constant(null)) : arb;
}
