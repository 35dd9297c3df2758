// Period labels as the API reads them: 2026-11, 2026-Q4, 2026, FY2026-Q1, FY2026.
export type PeriodKind = "month" | "quarter" | "year" | "fiscalQuarter" | "fiscalYear";
export const PERIOD_KINDS: PeriodKind[] = ["month", "quarter", "year", "fiscalQuarter", "fiscalYear"];

/** A few periods around today, today's first after the earlier ones (newest last). */
export function periodsOf(kind: PeriodKind, today = new Date()): string[] {
  const y = today.getUTCFullYear();
  const mo = today.getUTCMonth(); // 0-based
  const q = Math.floor(mo / 3) + 1;
  const years = [y - 1, y, y + 1];
  switch (kind) {
    case "month":
      return Array.from({ length: 15 }, (_, i) => {
        const d = new Date(Date.UTC(y, mo - 6 + i, 1));
        return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, "0")}`;
      });
    case "quarter":
      return Array.from({ length: 9 }, (_, i) => {
        const n = y * 4 + (q - 1) - 4 + i;
        return `${Math.floor(n / 4)}-Q${(n % 4) + 1}`;
      });
    case "year":
      return years.map(String);
    case "fiscalQuarter":
      return years.flatMap((fy) => [1, 2, 3, 4].map((k) => `FY${fy}-Q${k}`));
    case "fiscalYear":
      return years.map((fy) => `FY${fy}`);
  }
}

export function currentPeriod(kind: PeriodKind, today = new Date()): string {
  const y = today.getUTCFullYear();
  const mo = today.getUTCMonth();
  switch (kind) {
    case "month":
      return `${y}-${String(mo + 1).padStart(2, "0")}`;
    case "quarter":
      return `${y}-Q${Math.floor(mo / 3) + 1}`;
    case "year":
      return String(y);
    case "fiscalQuarter":
      return `FY${y}-Q1`;
    case "fiscalYear":
      return `FY${y}`;
  }
}
