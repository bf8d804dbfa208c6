/**
 * One entry of a meeting transcript: a finished agent turn or a person's interjection, with
 * speaker, kind, round, model, tokens and cost; and the turn being spoken, streaming in.
 * Offline-model replies start with a fixed label line, shown here as a badge instead.
 */
import { type JSX, Show } from "solid-js";
import { OFFLINE_LABEL } from "../../../durable-objects/meeting/offline-model.ts";
import type { MeetingMessage } from "../api/types.ts";
import { formatCount, formatUsd } from "../lib/format.ts";
import type { SpeakingTurn } from "../lib/meeting-live.ts";
import { kindLabel } from "../lib/meeting-labels.ts";
import { Avatar } from "./Avatar.tsx";
import { MarkdownText } from "./MarkdownText.tsx";

/** Splits off the offline model's label line, if the text has one. */
function withoutOfflineLabel(text: string): { offline: boolean; body: string } {
  if (!text.startsWith(OFFLINE_LABEL)) return { offline: false, body: text };
  return { offline: true, body: text.slice(OFFLINE_LABEL.length).replace(/^\s+/, "") };
}

export interface MessageCardProps {
  message: MeetingMessage;
  /** actions under the text (e.g. "Branch from here") */
  children?: JSX.Element;
}

export function MessageCard(props: MessageCardProps) {
  const m = () => props.message;
  const isInterjection = () => m().turnIndex === null;
  const content = () => withoutOfflineLabel(m().text);
  const tokens = () => m().usage.inputTokens + m().usage.outputTokens;
  return (
    <article
      class="message"
      classList={{ "message-interjection": isInterjection(), [`message-${m().kind}`]: true }}
      data-testid="message"
      data-speaker={m().speaker}
      data-kind={m().kind}
      data-turn-index={m().turnIndex ?? undefined}
      aria-label={`${m().speaker}, ${kindLabel(m().kind)}`}
    >
      <header class="message-head">
        <Avatar id={isInterjection() ? (m().authorId ?? m().speaker) : m().speaker} name={m().speaker} size="small" />
        <span class="message-speaker">{m().speaker}</span>
        <span class="badge badge-kind">{kindLabel(m().kind)}</span>
        <Show when={m().round !== null && !isInterjection()}>
          <span class="muted message-round">round {m().round}</span>
        </Show>
        <Show when={content().offline}>
          <span class="badge badge-offline" title="Placeholder text from the offline model, not a real model reply">
            offline placeholder
          </span>
        </Show>
        <span class="message-meta">
          <Show when={m().model}>{(model) => <code class="message-model">{model()}</code>}</Show>
          <Show when={!isInterjection()}>
            <span title={`${formatCount(m().usage.inputTokens)} in, ${formatCount(m().usage.outputTokens)} out`}>
              {formatCount(tokens())} tokens
            </span>
            <span>{formatUsd(m().costUsd)}</span>
          </Show>
        </span>
      </header>
      <MarkdownText text={content().body} />
      <Show when={props.children}>
        <div class="message-actions">{props.children}</div>
      </Show>
    </article>
  );
}

export interface StreamingCardProps {
  turn: SpeakingTurn;
  paused: boolean;
}

/** The turn being spoken, highlighted, its text growing as tokens arrive. */
export function StreamingCard(props: StreamingCardProps) {
  const t = () => props.turn;
  const content = () => withoutOfflineLabel(t().text);
  const speaker = () => t().speaker || "An agent";
  return (
    <article
      class="message message-streaming"
      data-testid="streaming"
      data-speaker={t().speaker}
      data-turn-index={t().turnIndex}
      aria-busy="true"
      aria-label={`${speaker()} is speaking`}
    >
      <header class="message-head">
        <Avatar id={speaker()} name={speaker()} size="small" />
        <span class="message-speaker">{speaker()}</span>
        <Show when={t().kind}>
          <span class="badge badge-kind">{kindLabel(t().kind)}</span>
        </Show>
        <Show when={t().round > 0}>
          <span class="muted message-round">round {t().round}</span>
        </Show>
        <Show when={content().offline}>
          <span class="badge badge-offline">offline placeholder</span>
        </Show>
        <span class="message-meta">
          <Show when={t().model}>
            <code class="message-model">{t().model}</code>
          </Show>
          <span class="speaking-indicator">{props.paused ? "paused" : "speaking…"}</span>
        </span>
      </header>
      <Show when={content().body} fallback={<p class="muted">Thinking…</p>}>
        <MarkdownText text={content().body} />
      </Show>
    </article>
  );
}
