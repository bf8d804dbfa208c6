/**
 * Errors in the form they may be logged. drizzle's DrizzleQueryError puts the query's parameters
 * in its message and stack ("params: …": password hashes, token hashes, e-mail addresses), and a
 * Postgres message can quote a value ('invalid input syntax for type uuid: "…"'), so database
 * errors are logged as their query text and SQLSTATE only. Runtime-neutral (Worker and DOs).
 */

const MAX_DEPTH = 4;
const MAX_FRAMES = 6;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null;
}

/** One link of a cause chain, without anything that may carry data. */
function describeOne(e: unknown): string {
  if (!isObject(e)) return `thrown ${typeof e}`;
  if (typeof e.query === "string" && "params" in e) return `query failed: ${e.query}`;
  if (typeof e.code === "string" && /^[0-9A-Z]{5}$/.test(e.code)) {
    const where = [e.table, e.column, e.constraint].filter((v) => typeof v === "string" && v).join(".");
    return `postgres error ${e.code}${where ? ` (${where})` : ""}`;
  }
  const name = typeof e.name === "string" ? e.name : "Error";
  return typeof e.message === "string" ? `${name}: ${e.message}` : name;
}

function isDatabaseError(e: unknown): boolean {
  return isObject(e) && ((typeof e.query === "string" && "params" in e) || (typeof e.code === "string" && /^[0-9A-Z]{5}$/.test(e.code)));
}

/**
 * A one-line-per-part description of `e` and its causes that never contains SQL parameters or
 * Postgres messages: error names and messages for ordinary errors, the query text and SQLSTATE
 * for database errors, and the stack frames (without the message line the stack starts with).
 */
export function loggableError(e: unknown): string {
  const parts: string[] = [];
  let database = false;
  let cur: unknown = e;
  for (let depth = 0; cur !== undefined && cur !== null && depth < MAX_DEPTH; depth++) {
    parts.push(describeOne(cur));
    database ||= isDatabaseError(cur);
    cur = isObject(cur) ? cur.cause : undefined;
  }
  // A driver error wrapping a database error may quote its message: keep only the safe parts.
  const text = database ? parts.filter((p, i) => i === 0 || p.startsWith("query failed") || p.startsWith("postgres error")) : parts;
  const stack = isObject(e) && typeof e.stack === "string" ? e.stack : "";
  const frames = stack
    .split("\n")
    .filter((l) => /^\s+at /.test(l))
    .slice(0, MAX_FRAMES);
  return [text.join(" ← caused by: "), ...frames].join("\n");
}
