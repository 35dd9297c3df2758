// RFC 9457 problem details, as every KAM service answers errors. Parsed in exactly one place (the
// API client's middleware, api.ts) so no screen depends on how a document types its error responses.
export interface FieldProblem {
  field: string;
  message: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors: FieldProblem[];
  // Anything else the service put in the body (e.g. existing_id on a duplicate account).
  extra: Record<string, unknown>;
}

export class ProblemError extends Error {
  readonly problem: Problem;
  constructor(problem: Problem) {
    super(problem.detail || problem.title);
    this.name = "ProblemError";
    this.problem = problem;
  }
  get status(): number {
    return this.problem.status;
  }
}

function asText(value: unknown, fallback: string): string {
  return typeof value === "string" && value ? value : fallback;
}

function asFieldProblems(value: unknown): FieldProblem[] {
  if (!Array.isArray(value)) return [];
  return value
    .filter((e): e is Record<string, unknown> => typeof e === "object" && e !== null)
    .map((e) => ({ field: asText(e.field, ""), message: asText(e.message ?? e.msg, "") }));
}

export function problemFromBody(body: unknown, status: number, statusText: string): Problem {
  const b = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
  const { type, title, status: bodyStatus, detail, errors, ...extra } = b;
  // A service names a single bad field with `field` (domain errors); fold it into errors[].
  const fieldErrors = asFieldProblems(errors);
  if (typeof extra.field === "string" && !fieldErrors.some((e) => e.field === extra.field)) {
    fieldErrors.push({ field: extra.field, message: asText(detail, asText(title, statusText)) });
  }
  return {
    type: asText(type, "about:blank"),
    title: asText(title, statusText || `HTTP ${status}`),
    status: typeof bodyStatus === "number" ? bodyStatus : status,
    detail: asText(detail, ""),
    errors: fieldErrors,
    extra,
  };
}

export async function problemFromResponse(response: Response): Promise<Problem> {
  const type = response.headers.get("content-type") ?? "";
  let body: unknown = undefined;
  if (type.includes("json")) {
    try {
      body = await response.clone().json();
    } catch {
      body = undefined;
    }
  }
  return problemFromBody(body, response.status, response.statusText);
}

/** The problem an exception stands for: a network failure becomes a problem with status 0. */
export function problemOf(error: unknown): Problem {
  if (error instanceof ProblemError) return error.problem;
  const message = error instanceof Error ? error.message : String(error);
  return { type: "about:blank", title: "Network error", status: 0, detail: message, errors: [], extra: {} };
}

/** The message errors[] gives for one field (matching "lines.0.amount" to "lines" too). */
export function fieldMessage(problem: Problem | null | undefined, field: string): string | undefined {
  if (!problem) return undefined;
  const hit = problem.errors.find((e) => e.field === field || e.field.startsWith(`${field}.`));
  return hit?.message;
}
