/**
 * Text the system can store and send: no NUL (U+0000, which Postgres text and jsonb refuse) and
 * no lone UTF-16 surrogate (which has no UTF-8 encoding, so jsonb refuses it and every encoder
 * mangles it). Checked once at every edge — JSON request bodies, paths and query strings
 * (app.ts) and room socket frames (room-base.ts) — so no field can be forgotten.
 * Runtime-neutral: used by the Worker and the Durable Objects.
 */

// One pass over UTF-16 code units: a NUL, a high surrogate not followed by a low one, or a low
// surrogate not preceded by a high one. Linear: each alternative looks at most one unit around.
const MALFORMED = /\0|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Whether `s` contains no NUL and no unpaired surrogate. */
export function isWellFormedText(s: string): boolean {
  return !MALFORMED.test(s);
}

/** Why `s` is refused, for error messages (undefined when it is fine). */
export function malformedTextReason(s: string): string | undefined {
  const m = MALFORMED.exec(s);
  if (!m) return undefined;
  return m[0] === "\0" ? "contains a NUL character (U+0000)" : "contains an unpaired UTF-16 surrogate";
}

export interface MalformedText {
  /** where in the value: object keys and array indexes from the root */
  path: string[];
  message: string;
}

/**
 * The first string (object key or value) in a parsed JSON value that is not well-formed text, or
 * undefined. Iterative, so a deeply nested body cannot exhaust the stack.
 */
export function findMalformedText(value: unknown): MalformedText | undefined {
  // Each entry points at its parent, so the path is built only for the one string refused.
  interface Node {
    value: unknown;
    key: string | undefined;
    parent: Node | undefined;
  }
  const pathOf = (node: Node | undefined, last?: string): string[] => {
    const path = last === undefined ? [] : [last];
    for (let n = node; n?.key !== undefined; n = n.parent) path.push(n.key);
    return path.reverse();
  };
  const stack: Node[] = [{ value, key: undefined, parent: undefined }];
  while (stack.length > 0) {
    const node = stack.pop() as Node;
    const v = node.value;
    if (typeof v === "string") {
      const reason = malformedTextReason(v);
      if (reason) return { path: pathOf(node), message: `The text ${reason}.` };
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], key: String(i), parent: node });
    } else if (typeof v === "object" && v !== null) {
      for (const [k, child] of Object.entries(v)) {
        const reason = malformedTextReason(k);
        if (reason) return { path: pathOf(node, toWellFormedText(k)), message: `The key ${reason}.` };
        stack.push({ value: child, key: k, parent: node });
      }
    }
  }
  return undefined;
}

const MALFORMED_GLOBAL = new RegExp(MALFORMED.source, "g");

/**
 * `s` with every NUL and unpaired surrogate replaced by U+FFFD, for text the system did not get
 * from a client (a model's reply) and must store anyway.
 */
export function toWellFormedText(s: string): string {
  return isWellFormedText(s) ? s : s.replace(MALFORMED_GLOBAL, "\uFFFD");
}
