/**
 * A deliberately small Markdown reader for model replies: headings, paragraphs, bullet and
 * numbered lists (nested by indentation), block quotes, fenced code, rules, and inline bold,
 * italic, code and http(s) links. It produces plain data that `MarkdownText` turns into DOM
 * nodes, so untrusted text never reaches innerHTML. Anything it does not understand stays text.
 */

export type Inline =
  | { type: "text"; text: string }
  | { type: "code"; text: string }
  | { type: "strong"; children: Inline[] }
  | { type: "em"; children: Inline[] }
  | { type: "link"; href: string; children: Inline[] };

export interface ListItem {
  /** lines of the item's own text */
  lines: Inline[][];
  children: ListBlock[];
}

export interface ListBlock {
  type: "list";
  ordered: boolean;
  start: number;
  items: ListItem[];
}

export type Block =
  | { type: "heading"; level: number; content: Inline[] }
  | { type: "paragraph"; lines: Inline[][] }
  | ListBlock
  | { type: "quote"; blocks: Block[] }
  | { type: "code"; text: string }
  | { type: "rule" };

const INLINE =
  /(`+)([\s\S]*?[^`])\1(?!`)|\*\*(?=\S)([\s\S]*?\S)\*\*|__(?=\S)([\s\S]*?\S)__|\*(?=[^\s*])([\s\S]*?[^\s*])\*|(?<![A-Za-z0-9])_(?=[^\s_])([\s\S]*?[^\s_])_(?![A-Za-z0-9])|\[([^\]\n]+)\]\((https?:\/\/[^\s)]+)\)/g;

/** Parses inline emphasis, code and links; everything else is text. */
export function parseInline(text: string): Inline[] {
  const out: Inline[] = [];
  let last = 0;
  for (const m of text.matchAll(INLINE)) {
    const index = m.index ?? 0;
    if (index > last) out.push({ type: "text", text: text.slice(last, index) });
    if (m[2] !== undefined) out.push({ type: "code", text: m[2].trim() || m[2] });
    else if (m[3] !== undefined || m[4] !== undefined) out.push({ type: "strong", children: parseInline(m[3] ?? m[4] ?? "") });
    else if (m[5] !== undefined || m[6] !== undefined) out.push({ type: "em", children: parseInline(m[5] ?? m[6] ?? "") });
    else if (m[7] !== undefined && m[8] !== undefined) out.push({ type: "link", href: m[8], children: parseInline(m[7]) });
    last = index + m[0].length;
  }
  if (last < text.length) out.push({ type: "text", text: text.slice(last) });
  return out;
}

const HEADING = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const FENCE = /^\s{0,3}(```|~~~)/;
const RULE = /^\s{0,3}([-*_])(\s*\1){2,}\s*$/;
const QUOTE = /^\s{0,3}>\s?(.*)$/;
const LIST_ITEM = /^(\s*)([-*+•]|\d{1,9}[.)])\s+(.*)$/;

/** Columns of leading whitespace (a tab counts as four). */
function indentOf(s: string): number {
  return s.replace(/\t/g, "    ").length;
}

/** Parses Markdown text into blocks. */
export function parseMarkdown(text: string): Block[] {
  return parseLines(text.replace(/\r\n?/g, "\n").split("\n"));
}

function parseLines(lines: string[]): Block[] {
  const blocks: Block[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i] ?? "";
    if (!line.trim()) {
      i++;
      continue;
    }
    const fence = FENCE.exec(line);
    if (fence) {
      const body: string[] = [];
      i++;
      while (i < lines.length && !(lines[i] ?? "").trimStart().startsWith(fence[1] ?? "```")) body.push(lines[i++] ?? "");
      i++; // the closing fence (or the end of text while streaming)
      blocks.push({ type: "code", text: body.join("\n") });
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      blocks.push({ type: "heading", level: heading[1]?.length ?? 1, content: parseInline(heading[2] ?? "") });
      i++;
      continue;
    }
    if (RULE.test(line)) {
      blocks.push({ type: "rule" });
      i++;
      continue;
    }
    if (QUOTE.test(line)) {
      const inner: string[] = [];
      while (i < lines.length && QUOTE.test(lines[i] ?? "")) inner.push(QUOTE.exec(lines[i++] ?? "")?.[1] ?? "");
      blocks.push({ type: "quote", blocks: parseLines(inner) });
      continue;
    }
    if (LIST_ITEM.test(line)) {
      const start = i;
      while (i < lines.length && isListContinuation(lines, i, start)) i++;
      blocks.push(...parseList(lines.slice(start, i)));
      continue;
    }
    const para: Inline[][] = [];
    while (i < lines.length) {
      const l = lines[i] ?? "";
      if (!l.trim() || FENCE.test(l) || HEADING.test(l) || RULE.test(l) || QUOTE.test(l) || LIST_ITEM.test(l)) break;
      para.push(parseInline(l.trim()));
      i++;
    }
    blocks.push({ type: "paragraph", lines: para });
  }
  return blocks;
}

/** Whether line `i` still belongs to the list that began at `start`. */
function isListContinuation(lines: string[], i: number, start: number): boolean {
  const line = lines[i] ?? "";
  if (i === start || LIST_ITEM.test(line)) return true;
  if (!line.trim()) {
    // A blank line continues the list only when more of it follows.
    const next = lines[i + 1] ?? "";
    return LIST_ITEM.test(next) || (next.trim() !== "" && indentOf(/^\s*/.exec(next)?.[0] ?? "") >= 2);
  }
  // An indented line continues the previous item; an unindented one ends the list.
  return indentOf(/^\s*/.exec(line)?.[0] ?? "") >= 2 && !HEADING.test(line) && !FENCE.test(line);
}

interface OpenList {
  indent: number;
  block: ListBlock;
}

/** Builds nested lists from list lines, nesting by indentation. */
function parseList(lines: string[]): ListBlock[] {
  const roots: ListBlock[] = [];
  const stack: OpenList[] = [];
  let current: ListItem | undefined;
  for (const line of lines) {
    if (!line.trim()) continue;
    const m = LIST_ITEM.exec(line);
    if (!m) {
      current?.lines.push(parseInline(line.trim()));
      continue;
    }
    const indent = indentOf(m[1] ?? "");
    const marker = m[2] ?? "-";
    const ordered = /\d/.test(marker);
    while (stack.length > 0 && (stack[stack.length - 1]?.indent ?? 0) > indent) stack.pop();
    let top = stack[stack.length - 1];
    if (top && top.indent < indent && current) {
      // Deeper than the open list: a sub-list of the current item.
      const block: ListBlock = { type: "list", ordered, start: ordered ? Number.parseInt(marker, 10) : 1, items: [] };
      current.children.push(block);
      top = { indent, block };
      stack.push(top);
    } else if (!top || top.block.ordered !== ordered) {
      if (top) stack.pop();
      const block: ListBlock = { type: "list", ordered, start: ordered ? Number.parseInt(marker, 10) : 1, items: [] };
      const parent = stack[stack.length - 1];
      if (parent && current && parent.indent < indent) current.children.push(block);
      else roots.push(block);
      top = { indent, block };
      stack.push(top);
    }
    current = { lines: [parseInline(m[3] ?? "")], children: [] };
    top.block.items.push(current);
  }
  return roots;
}

/** Plain text of inlines (for accessible names and tests). */
export function inlineText(inlines: readonly Inline[]): string {
  return inlines.map((n) => (n.type === "text" || n.type === "code" ? n.text : inlineText(n.children))).join("");
}
