/**
 * Model text rendered as Markdown-ish DOM (see lib/markdown.ts): elements built by Solid from
 * parsed data, never innerHTML, so a reply cannot inject markup. Headings are shifted below the
 * surrounding card's heading so the page outline stays sane.
 */
import { createMemo, For, Match, Switch } from "solid-js";
import { Dynamic } from "solid-js/web";
import { type Block, type Inline, type ListBlock, parseMarkdown } from "../lib/markdown.ts";

export interface MarkdownTextProps {
  text: string;
  /** heading level a `#` heading becomes (default 4) */
  baseLevel?: number;
}

export function MarkdownText(props: MarkdownTextProps) {
  const blocks = createMemo(() => parseMarkdown(props.text));
  return (
    <div class="md">
      <Blocks blocks={blocks()} baseLevel={props.baseLevel ?? 4} />
    </div>
  );
}

function Blocks(props: { blocks: readonly Block[]; baseLevel: number }) {
  return (
    <For each={props.blocks}>
      {(block) => (
        <Switch>
          <Match when={block.type === "heading" && block}>
            {(b) => (
              <Dynamic component={`h${Math.min(6, props.baseLevel + Math.max(0, b().level - 2))}`} class="md-heading">
                <Inlines nodes={b().content} />
              </Dynamic>
            )}
          </Match>
          <Match when={block.type === "paragraph" && block}>
            {(b) => (
              <p>
                <For each={b().lines}>
                  {(line, i) => (
                    <>
                      {i() > 0 && <br />}
                      <Inlines nodes={line} />
                    </>
                  )}
                </For>
              </p>
            )}
          </Match>
          <Match when={block.type === "list" && block}>{(b) => <List block={b()} />}</Match>
          <Match when={block.type === "quote" && block}>
            {(b) => (
              <blockquote>
                <Blocks blocks={b().blocks} baseLevel={props.baseLevel} />
              </blockquote>
            )}
          </Match>
          <Match when={block.type === "code" && block}>
            {(b) => (
              <pre class="md-code">
                <code>{b().text}</code>
              </pre>
            )}
          </Match>
          <Match when={block.type === "rule"}>
            <hr />
          </Match>
        </Switch>
      )}
    </For>
  );
}

function List(props: { block: ListBlock }) {
  const items = () => (
    <For each={props.block.items}>
      {(item) => (
        <li>
          <For each={item.lines}>
            {(line, i) => (
              <>
                {i() > 0 && <br />}
                <Inlines nodes={line} />
              </>
            )}
          </For>
          <For each={item.children}>{(child) => <List block={child} />}</For>
        </li>
      )}
    </For>
  );
  return props.block.ordered ? <ol start={props.block.start}>{items()}</ol> : <ul>{items()}</ul>;
}

function Inlines(props: { nodes: readonly Inline[] }) {
  return (
    <For each={props.nodes}>
      {(node) => (
        <Switch>
          <Match when={node.type === "text" && node}>{(n) => n().text}</Match>
          <Match when={node.type === "code" && node}>{(n) => <code>{n().text}</code>}</Match>
          <Match when={node.type === "strong" && node}>
            {(n) => (
              <strong>
                <Inlines nodes={n().children} />
              </strong>
            )}
          </Match>
          <Match when={node.type === "em" && node}>
            {(n) => (
              <em>
                <Inlines nodes={n().children} />
              </em>
            )}
          </Match>
          <Match when={node.type === "link" && node}>
            {(n) => (
              <a href={n().href} target="_blank" rel="noopener noreferrer nofollow">
                <Inlines nodes={n().children} />
              </a>
            )}
          </Match>
        </Switch>
      )}
    </For>
  );
}
