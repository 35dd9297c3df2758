// Form checks taken from the services' own JSON Schemas (generated with the client), so the
// console rejects before sending exactly what the API would: required, lengths, ranges, enums,
// dates. The server still has the last word; its errors[] are shown the same way.
import type { FieldProblem } from "./problem";

export interface JsonSchema {
  type?: string;
  $ref?: string;
  anyOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  maxItems?: number;
  pattern?: string;
  format?: string;
}

export type SchemaSet = Record<string, JsonSchema>;

/** What went wrong, as a code the screen's language turns into words (see shell messages). */
export type Rule = "required" | "minLength" | "maxLength" | "minimum" | "maximum" | "enum" | "date" | "number" | "integer"
  | "maxItems" | "pattern";

export interface RuleProblem extends FieldProblem {
  rule: Rule;
  limit?: number;
}

const resolve = (s: JsonSchema, set: SchemaSet): JsonSchema =>
  s.$ref ? set[s.$ref.split("/").pop()!] ?? {} : s;

const isEmpty = (v: unknown) => v === undefined || v === null || v === "";

function checkNumber(v: unknown, s: JsonSchema, path: string, allowString: boolean): RuleProblem[] {
  const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : NaN;
  if (Number.isNaN(n)) return allowString && typeof v === "string" ? [] : [{ field: path, message: "", rule: "number" }];
  if (s.type === "integer" && !Number.isInteger(n)) return [{ field: path, message: "", rule: "integer" }];
  if (s.minimum !== undefined && n < s.minimum) return [{ field: path, message: "", rule: "minimum", limit: s.minimum }];
  if (s.maximum !== undefined && n > s.maximum) return [{ field: path, message: "", rule: "maximum", limit: s.maximum }];
  return [];
}

function checkString(v: unknown, s: JsonSchema, path: string): RuleProblem[] {
  if (typeof v !== "string") return [];
  if (s.minLength !== undefined && v.length < s.minLength) {
    return [{ field: path, message: "", rule: s.minLength === 1 ? "required" : "minLength", limit: s.minLength }];
  }
  if (s.maxLength !== undefined && v.length > s.maxLength) return [{ field: path, message: "", rule: "maxLength", limit: s.maxLength }];
  if (s.format === "date" && !/^\d{4}-\d{2}-\d{2}$/.test(v)) return [{ field: path, message: "", rule: "date" }];
  if (s.pattern && !new RegExp(s.pattern).test(v)) return [{ field: path, message: "", rule: "pattern" }];
  return [];
}

/** Checks one value against a schema; `path` names the field as the API's errors[] would. */
export function check(value: unknown, schema: JsonSchema, set: SchemaSet, path = ""): RuleProblem[] {
  const s = resolve(schema, set);
  if (s.anyOf) {
    const options = s.anyOf.map((o) => resolve(o, set));
    // null (or absent) is the null branch; an empty string is a value and meets the string's rules.
    if ((value === null || value === undefined) && options.some((o) => o.type === "null")) return [];
    const allowString = options.some((o) => o.type === "string" && !o.enum && !o.format);
    const numeric = options.find((o) => o.type === "number" || o.type === "integer");
    if (numeric && (typeof value === "number" || (typeof value === "string" && !Number.isNaN(Number(value)) && value.trim() !== ""))) {
      return checkNumber(value, numeric, path, allowString);
    }
    const first = options.find((o) => o.type !== "null") ?? {};
    return check(value, first, set, path);
  }
  if (s.enum && !isEmpty(value) && !s.enum.includes(value)) return [{ field: path, message: "", rule: "enum" }];
  if (s.type === "number" || s.type === "integer") return isEmpty(value) ? [] : checkNumber(value, s, path, false);
  if (s.type === "string") return checkString(value, s, path);
  if (s.type === "array" && Array.isArray(value)) {
    if (s.maxItems !== undefined && value.length > s.maxItems) return [{ field: path, message: "", rule: "maxItems", limit: s.maxItems }];
    return value.flatMap((item, i) => (s.items ? check(item, s.items, set, `${path}.${i}`) : []));
  }
  if (s.properties && typeof value === "object" && value !== null) return checkObject(value as Record<string, unknown>, s, set, path);
  return [];
}

function checkObject(value: Record<string, unknown>, s: JsonSchema, set: SchemaSet, path: string): RuleProblem[] {
  const prefix = path ? `${path}.` : "";
  const missing = (s.required ?? [])
    .filter((k) => isEmpty(value[k]))
    .map((k): RuleProblem => ({ field: prefix + k, message: "", rule: "required" }));
  const nested = Object.entries(value)
    .filter(([k, v]) => s.properties![k] && !(isEmpty(v) && (s.required ?? []).includes(k)))
    .flatMap(([k, v]) => check(v, s.properties![k], set, prefix + k));
  return [...missing, ...nested];
}

/** Checks a request body against the named component schema. */
export function checkBody(body: Record<string, unknown>, name: string, set: SchemaSet): RuleProblem[] {
  return check(body, set[name] ?? {}, set);
}

/** The enum values a property allows (for a select's options). */
export function enumOf(set: SchemaSet, name: string, property: string): string[] {
  const p = set[name]?.properties?.[property];
  if (!p) return [];
  const options = p.anyOf ? p.anyOf.map((o) => resolve(o, set)) : [resolve(p, set)];
  return options.flatMap((o) => (o.enum ?? []) as string[]);
}
