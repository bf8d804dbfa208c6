/** Small display helpers shared by pages: dates, initials, avatar colours, safe redirects. */

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });

export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : dateTime.format(d);
}

export function formatDate(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : dateOnly.format(d);
}

/** Up to two initials from a display name ("Ada Lovelace" → "AL", "ada" → "AD"). */
export function initialsOf(name: string): string {
  const words = name
    .trim()
    .split(/[\s._-]+/)
    .filter(Boolean);
  const first = words[0] ?? "?";
  const letters = words.length > 1 ? `${first[0] ?? ""}${words[words.length - 1]?.[0] ?? ""}` : first.slice(0, 2);
  return letters.toUpperCase() || "?";
}

/** A stable hue (0–359) per id, so each person keeps their avatar colour. */
export function hueOf(id: string): number {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) >>> 0;
  return h % 360;
}

/** Only same-site paths are followed after sign-in (no `//host` or absolute URLs). */
export function safeNextPath(next: unknown): string | undefined {
  if (typeof next !== "string" || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return undefined;
  return next;
}

/** Converts a `datetime-local` input value to ISO 8601 (UTC) or undefined when empty. */
export function localInputToIso(value: string): string | undefined {
  if (!value) return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** Dollars with enough digits to show small per-turn costs ($0.0042), cents once it is larger. */
export function formatUsd(amount: number): string {
  if (!Number.isFinite(amount)) return "—";
  if (amount === 0) return "$0.00";
  const digits = Math.abs(amount) < 0.01 ? 4 : Math.abs(amount) < 1 ? 3 : 2;
  return `$${amount.toFixed(digits)}`;
}

const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });

/** A token count with grouping ("12,345"). */
export function formatCount(n: number): string {
  return integer.format(n);
}
