// Money and dates as the user's language writes them. Amounts arrive as decimal strings; they are
// shown, never summed here (the services do the arithmetic).
import type { Lang } from "./i18n";

export function money(amount: string | number | null | undefined, currency: string, lang: Lang): string {
  if (amount === null || amount === undefined || amount === "") return "—";
  const n = typeof amount === "number" ? amount : Number(amount);
  if (!Number.isFinite(n)) return String(amount);
  try {
    return new Intl.NumberFormat(lang, { style: "currency", currency, maximumFractionDigits: 2 }).format(n);
  } catch {
    return `${n.toFixed(2)} ${currency}`;
  }
}

/** A compact figure for chart labels (e.g. 1.2M / 120万). */
export function compact(amount: string | number, lang: Lang): string {
  const n = typeof amount === "number" ? amount : Number(amount);
  return new Intl.NumberFormat(lang, { notation: "compact", maximumFractionDigits: 1 }).format(n);
}

export function date(value: string | null | undefined, lang: Lang): string {
  if (!value) return "—";
  const d = new Date(value.length === 10 ? `${value}T00:00:00Z` : value);
  if (Number.isNaN(d.getTime())) return value;
  return new Intl.DateTimeFormat(lang, { year: "numeric", month: "2-digit", day: "2-digit", timeZone: "UTC" }).format(d);
}

export function dateTime(value: string | null | undefined, lang: Lang): string {
  if (!value) return "—";
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return value;
  return new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" }).format(d);
}
