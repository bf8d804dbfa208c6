/**
 * The top of the live meeting view: title, status, progress through the rounds, cost so far, the
 * offline-model warning, where the meeting came from (branch parent, parallel group) and the
 * export buttons.
 */
import { A } from "@solidjs/router";
import { createSignal, For, Show } from "solid-js";
import type { MeetingState } from "../../../durable-objects/meeting/protocol.ts";
import { type ExportFormat, exportMeeting } from "../api/meetings-api.ts";
import type { Meeting } from "../api/types.ts";
import { formatDateTime, formatUsd } from "../lib/format.ts";
import { progressText } from "../lib/meeting-labels.ts";
import { ErrorAlert } from "./ErrorAlert.tsx";
import { MeetingStatusBadge } from "./MeetingStatusBadge.tsx";

export interface MeetingHeaderProps {
  meeting: Meeting;
  state: MeetingState;
  round: number | undefined;
  /** the branch parent, once loaded */
  parent: Meeting | undefined;
  /** the meetings of its parallel group (copies and merge), once loaded */
  group: readonly Meeting[] | undefined;
}

/** Saves a downloaded file under its server-given name. */
function saveFile(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function MeetingHeader(props: MeetingHeaderProps) {
  const [exportError, setExportError] = createSignal<unknown>();
  const [exporting, setExporting] = createSignal<ExportFormat>();
  const m = () => props.meeting;
  const budget = () => m().config.maxCostUsd;
  const copies = () => (props.group ?? []).filter((g) => g.mergeRole === "copy");
  const merge = () => (props.group ?? []).find((g) => g.mergeRole === "merge");

  async function onExport(format: ExportFormat) {
    setExporting(format);
    setExportError(undefined);
    try {
      const file = await exportMeeting(m().id, format);
      saveFile(file.blob, file.filename ?? `meeting-${m().id}.${format}`);
    } catch (e: unknown) {
      setExportError(e);
    } finally {
      setExporting(undefined);
    }
  }

  return (
    <header class="card meeting-header" data-testid="meeting-header">
      <div class="meeting-title-row">
        <h1>{m().title}</h1>
        <div class="badge-group">
          <MeetingStatusBadge status={props.state.status} testId="meeting-status" />
          <Show when={props.state.provider === "offline"}>
            <span
              class="badge badge-offline-strong"
              data-testid="offline-badge"
              title="No Anthropic API key was available, so the replies are placeholder text from the offline model."
            >
              Offline model
            </span>
          </Show>
        </div>
      </div>
      <dl class="meeting-facts">
        <div>
          <dt>Progress</dt>
          <dd data-testid="meeting-progress">
            {progressText({ type: m().type, state: props.state, round: props.round, rounds: m().config.rounds })}
          </dd>
        </div>
        <div>
          <dt>Cost so far</dt>
          <dd data-testid="meeting-cost">
            {formatUsd(props.state.costUsd)}
            <Show when={budget()}>{(b) => <span class="muted"> of {formatUsd(b())} budget</span>}</Show>
          </dd>
        </div>
        <div>
          <dt>Type</dt>
          <dd>{m().type === "team" ? "Team meeting" : "Individual meeting"}</dd>
        </div>
        <div>
          <dt>Created</dt>
          <dd>{formatDateTime(m().createdAt)}</dd>
        </div>
      </dl>
      <Show when={props.state.provider === "offline"}>
        <p class="offline-note">
          This meeting runs on the <strong>offline model</strong>: its replies are labelled placeholder text, not a real model's. Add an
          Anthropic API key in <A href="/settings">Settings</A> for real replies.
        </p>
      </Show>
      <Show when={m().parentMeetingId}>
        {(parentId) => (
          <p class="meeting-origin" data-testid="meeting-parent">
            Branched from <A href={`/meetings/${parentId()}`}>{props.parent ? `“${props.parent.title}”` : "the parent meeting"}</A>
            <Show when={m().branchTurnIndex !== null}> after turn {(m().branchTurnIndex ?? 0) + 1}</Show>.
          </p>
        )}
      </Show>
      <Show when={m().mergeGroupId && props.group}>
        <nav class="meeting-origin" aria-label="Parallel group" data-testid="merge-group">
          <span>{m().mergeRole === "merge" ? "Merges the parallel copies:" : "Parallel group:"}</span>
          <ul class="inline-list">
            <For each={copies()}>
              {(copy, i) => (
                <li>
                  <Show when={copy.id !== m().id} fallback={<strong aria-current="page">Copy {i() + 1}</strong>}>
                    <A href={`/meetings/${copy.id}`}>Copy {i() + 1}</A>
                  </Show>{" "}
                  <MeetingStatusBadge status={copy.status} />
                </li>
              )}
            </For>
            <li>
              <Show when={merge()} fallback={<span class="muted">Merge (starts when every copy has finished)</span>}>
                {(mm) => (
                  <>
                    <Show when={mm().id !== m().id} fallback={<strong aria-current="page">Merge</strong>}>
                      <A href={`/meetings/${mm().id}`}>Merge</A>
                    </Show>{" "}
                    <MeetingStatusBadge status={mm().status} />
                  </>
                )}
              </Show>
            </li>
          </ul>
        </nav>
      </Show>
      <Show when={props.state.status === "failed" || props.state.errorMessage}>
        <p class="alert alert-error" role="alert" data-testid="meeting-error">
          <strong>{props.state.status === "failed" ? "The meeting failed. " : ""}</strong>
          {props.state.errorMessage ?? "No reason was given."}
          <Show when={props.state.errorCode}>{(code) => <span class="muted"> ({code()})</span>}</Show>
        </p>
      </Show>
      <div class="form-actions meeting-exports">
        <button type="button" class="button button-small" disabled={exporting() !== undefined} onClick={() => void onExport("md")}>
          {exporting() === "md" ? "Exporting…" : "Export Markdown"}
        </button>
        <button type="button" class="button button-small" disabled={exporting() !== undefined} onClick={() => void onExport("json")}>
          {exporting() === "json" ? "Exporting…" : "Export JSON"}
        </button>
      </div>
      <ErrorAlert error={exportError()} title="Could not export the meeting." />
    </header>
  );
}
