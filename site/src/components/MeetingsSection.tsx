/**
 * A team's meetings, newest first: title, type, status, cost and date, each linking to the live
 * view. Editors and owners get "New meeting". While a meeting is under way the list refreshes
 * itself, so statuses and costs move without a reload.
 */
import { A } from "@solidjs/router";
import { createResource, createEffect, onCleanup, Show } from "solid-js";
import { listMeetings } from "../api/meetings-api.ts";
import type { Meeting } from "../api/types.ts";
import { formatDateTime, formatUsd } from "../lib/format.ts";
import { isFinishedStatus } from "../lib/meeting-live.ts";
import { DataTable } from "./DataTable.tsx";
import { LoadState } from "./LoadState.tsx";
import { MeetingStatusBadge } from "./MeetingStatusBadge.tsx";

const REFRESH_MS = 8_000;

export interface MeetingsSectionProps {
  teamId: string;
  canEdit: boolean;
}

export function MeetingsSection(props: MeetingsSectionProps) {
  const [meetings, { refetch }] = createResource(() => props.teamId, listMeetings);
  const list = () => (meetings.state === "errored" ? undefined : meetings.latest);
  const anyActive = () => list()?.some((m) => !isFinishedStatus(m.status)) ?? false;

  createEffect(() => {
    if (!anyActive()) return;
    const timer = setInterval(() => {
      if (!document.hidden) void refetch();
    }, REFRESH_MS);
    onCleanup(() => clearInterval(timer));
  });

  return (
    <section class="card" aria-labelledby="meetings-heading" data-testid="meetings">
      <div class="section-heading">
        <h2 id="meetings-heading">Meetings</h2>
        <Show when={props.canEdit}>
          <A href={`/teams/${props.teamId}/meetings/new`} class="button button-primary">
            New meeting
          </A>
        </Show>
      </div>
      <LoadState
        error={meetings.error}
        value={list()}
        errorTitle="Could not load the meetings."
        loadingText="Loading meetings…"
        emptyText={`No meetings yet.${props.canEdit ? " Start one: your agents discuss an agenda in rounds and write a summary." : ""}`}
        onRetry={refetch}
      >
        {(items) => (
          <DataTable items={items()} columns={["Meeting", "Type", "Status", "Cost", "Created"]} testId="meeting-list">
            {(meeting) => <MeetingRow meeting={meeting} />}
          </DataTable>
        )}
      </LoadState>
    </section>
  );
}

function MeetingRow(props: { meeting: Meeting }) {
  const m = () => props.meeting;
  return (
    <tr data-testid="meeting-row" data-meeting-id={m().id}>
      <td class="cell-wrap">
        <A href={`/meetings/${m().id}`} class="meeting-link">
          {m().title}
        </A>
        <span class="badge-group meeting-tags">
          <Show when={m().parentMeetingId}>
            <span class="badge">branch</span>
          </Show>
          <Show when={m().mergeRole}>{(role) => <span class="badge">{role() === "merge" ? "merge" : "parallel copy"}</span>}</Show>
          <Show when={m().provider === "offline"}>
            <span class="badge badge-offline">offline model</span>
          </Show>
        </span>
      </td>
      <td>{m().type}</td>
      <td>
        <MeetingStatusBadge status={m().status} />
        <Show when={!isFinishedStatus(m().status) && m().status !== "pending"}>
          <span class="muted nowrap">
            {" "}
            {m().completedTurns}/{m().totalTurns}
          </span>
        </Show>
      </td>
      <td class="nowrap">{formatUsd(m().costUsd)}</td>
      <td class="nowrap">{formatDateTime(m().createdAt)}</td>
    </tr>
  );
}
