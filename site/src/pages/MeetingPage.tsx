/**
 * The live meeting view: header, who is watching, controls (editors and owners), the transcript
 * with the speaking agent's text streaming in, and the summary at the end. The REST record and
 * transcript draw the first picture; the meeting socket then replays its log and streams live
 * events, resuming with `?since=` after any drop, so every watcher sees the same meeting.
 */
import { A, useNavigate, useParams } from "@solidjs/router";
import { createEffect, createResource, createSignal, For, Match, on, onCleanup, onMount, Show, Switch } from "solid-js";
import { getMeeting, getTranscript, listMeetings } from "../api/meetings-api.ts";
import { isApiError } from "../api/http.ts";
import { getTeam } from "../api/teams-api.ts";
import type { MeetingEvent } from "../../../durable-objects/meeting/protocol.ts";
import type { Meeting, MeetingMessage, TeamRole } from "../api/types.ts";
import { BranchForm } from "../components/BranchForm.tsx";
import { ErrorAlert } from "../components/ErrorAlert.tsx";
import { MeetingControls } from "../components/MeetingControls.tsx";
import { MeetingDetails } from "../components/MeetingDetails.tsx";
import { MeetingHeader } from "../components/MeetingHeader.tsx";
import { MessageCard, StreamingCard } from "../components/MessageCard.tsx";
import { PresenceView } from "../components/PresenceView.tsx";
import { SummaryCard } from "../components/SummaryCard.tsx";
import { applyMeetingEvent, initialLiveMeeting, isFinishedStatus, type LiveMeeting } from "../lib/meeting-live.ts";
import { connectMeeting, type MeetingSocket } from "../lib/meeting-socket.ts";
import { usePageTitle } from "../lib/page-title.ts";
import type { RoomSocketStatus } from "../lib/room-socket.ts";
import { currentUser } from "../session/session.ts";

interface LoadedMeeting {
  meeting: Meeting;
  role: TeamRole;
  transcript: MeetingMessage[];
}

async function loadMeeting(meetingId: string): Promise<LoadedMeeting> {
  const [{ meeting, role }, transcript] = await Promise.all([getMeeting(meetingId), getTranscript(meetingId)]);
  return { meeting, role, transcript };
}

export function MeetingPage() {
  const params = useParams<{ meetingId: string }>();
  // A new meeting id is a new view: new socket, new state.
  return (
    <Show when={params.meetingId} keyed>
      {(id) => <MeetingLoader meetingId={id} />}
    </Show>
  );
}

function MeetingLoader(props: { meetingId: string }) {
  const [loaded, { refetch }] = createResource(() => props.meetingId, loadMeeting);
  // Not found, not a member, or not a meeting id at all: the API does not tell these apart.
  const notFound = () => isApiError(loaded.error) && (loaded.error.status === 404 || loaded.error.code === "VALIDATION_FAILED");
  usePageTitle(() => (loaded.state === "ready" ? loaded().meeting.title : "Meeting"));
  return (
    <div class="page">
      <Switch>
        <Match when={notFound()}>
          <p class="breadcrumbs">
            <A href="/teams">← All teams</A>
          </p>
          <section class="card narrow">
            <h1>Meeting not found</h1>
            <p>This meeting does not exist, or you are not a member of its team.</p>
          </section>
        </Match>
        <Match when={loaded.error}>
          <ErrorAlert error={loaded.error} title="Could not load the meeting." />
          <div>
            <button type="button" class="button" onClick={() => void refetch()}>
              Try again
            </button>
          </div>
        </Match>
        <Match when={loaded.state === "ready" && loaded()}>{(data) => <LiveMeetingView {...data()} />}</Match>
        <Match when={true}>
          <p class="muted" role="status">
            Loading meeting…
          </p>
        </Match>
      </Switch>
    </div>
  );
}

function summaryHeading(meeting: Meeting): string {
  const config = meeting.config;
  if (config.type === "team") return "Summary";
  return config.merge ? "Merged summary" : "Final answer";
}

/** How long incoming events are gathered before the view updates. */
const EVENT_BATCH_MS = 40;

/** Pixels from the bottom within which the view keeps following new text. */
const FOLLOW_SLACK_PX = 160;

function LiveMeetingView(props: LoadedMeeting) {
  const navigate = useNavigate();
  const [meeting, setMeeting] = createSignal(props.meeting);
  const [live, setLive] = createSignal<LiveMeeting>(initialLiveMeeting(props.meeting, props.transcript));
  const [socketStatus, setSocketStatus] = createSignal<RoomSocketStatus>("connecting");
  const [commandError, setCommandError] = createSignal<string>();
  const [branchFrom, setBranchFrom] = createSignal<number>();
  const [accessLost, setAccessLost] = createSignal(false);
  const canEdit = () => props.role === "owner" || props.role === "editor";
  const status = () => live().state.status;

  const [team] = createResource(() => meeting().teamId, getTeam);
  const [parent] = createResource(
    () => meeting().parentMeetingId ?? undefined,
    async (id) => (await getMeeting(id)).meeting,
  );
  // The group gains its merge meeting once every copy has finished, so follow status changes.
  const [group] = createResource(
    () => (meeting().mergeGroupId ? { teamId: meeting().teamId, groupId: meeting().mergeGroupId, status: status() } : undefined),
    async ({ teamId, groupId }) =>
      (await listMeetings(teamId)).filter((m) => m.mergeGroupId === groupId).sort((a, b) => a.createdAt.localeCompare(b.createdAt)),
  );

  const round = () => {
    const l = live();
    return l.round?.round ?? l.speaking?.round ?? l.messages.findLast((m) => m.round !== null)?.round ?? undefined;
  };
  const summary = () => {
    const c = live().completion;
    return c && { summaryText: c.summaryText, summary: c.summary };
  };

  // Events are folded in small batches: a replay of the whole log (or a burst of tokens) then
  // renders once instead of once per frame, and replayed intermediate states never show.
  let pending: MeetingEvent[] = [];
  let flushTimer: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    flushTimer = undefined;
    const events = pending;
    pending = [];
    setLive((l) => events.reduce(applyMeetingEvent, l));
  };
  onCleanup(() => clearTimeout(flushTimer));

  let socket: MeetingSocket | undefined;
  onMount(() => {
    socket = connectMeeting({
      meetingId: props.meeting.id,
      onEvent: (event) => {
        pending.push(event);
        flushTimer ??= setTimeout(flush, EVENT_BATCH_MS);
      },
      onStatus: setSocketStatus,
      onCommandError: (code, message) =>
        setCommandError(code === "FORBIDDEN" ? `Only editors and owners can do that. (${message})` : message),
      // Refreshes an expired session before the socket tries again, and keeps the record current.
      beforeReconnect: async () => {
        try {
          setMeeting((await getMeeting(props.meeting.id)).meeting);
        } catch (e: unknown) {
          // Removed from the team (or the meeting deleted) meanwhile: stop instead of retrying forever.
          if (isApiError(e) && e.status === 404) {
            setAccessLost(true);
            socket?.close();
          }
          throw e;
        }
      },
    });
  });
  onCleanup(() => socket?.close());

  // A finished meeting's record has its final totals and summary: fetch it once.
  createEffect(
    on(status, (s, previous) => {
      if (previous !== undefined && s !== previous && isFinishedStatus(s)) {
        void getMeeting(props.meeting.id).then(
          (r) => setMeeting(r.meeting),
          () => undefined,
        );
      }
      if (s !== previous) setCommandError(undefined);
    }),
  );

  // Keep following the conversation while the reader is at the bottom of the page.
  let following = true;
  const onScroll = () => {
    following = window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - FOLLOW_SLACK_PX;
  };
  onMount(() => {
    onScroll();
    window.addEventListener("scroll", onScroll, { passive: true });
  });
  onCleanup(() => window.removeEventListener("scroll", onScroll));
  createEffect(
    on(
      () => [live().messages.length, live().speaking?.text.length],
      () => {
        if (following && status() === "running") window.scrollTo({ top: document.documentElement.scrollHeight });
      },
      { defer: true },
    ),
  );

  return (
    <>
      <p class="breadcrumbs">
        <A href={`/teams/${meeting().teamId}`}>← {team.state === "ready" ? team().name : "Team"}</A>
      </p>
      <MeetingHeader meeting={meeting()} state={live().state} round={round()} parent={parent.latest} group={group.latest} />
      <Show when={accessLost()}>
        <p class="alert alert-error" role="alert">
          You no longer have access to this meeting, so it stopped updating.
        </p>
      </Show>
      <PresenceView
        label="Watching:"
        viewers={live().viewers}
        total={live().viewerCount}
        status={socketStatus()}
        selfId={currentUser()?.id}
      />
      <Show when={canEdit() && !isFinishedStatus(status())}>
        <MeetingControls
          status={status()}
          connected={socketStatus() === "open"}
          commandError={commandError()}
          send={(command) => {
            setCommandError(undefined);
            return socket?.send(command) ?? false;
          }}
        />
      </Show>
      <MeetingDetails meeting={meeting()} />

      <section class="transcript-section" aria-labelledby="transcript-heading">
        <h2 id="transcript-heading">Transcript</h2>
        <p class="visually-hidden" role="status">
          {live().speaking ? `${live().speaking?.speaker || "An agent"} is speaking.` : ""}
        </p>
        <ol class="transcript" data-testid="transcript">
          <For each={live().messages}>
            {(message) => (
              <li>
                <MessageCard message={message}>
                  <Show when={canEdit() && message.turnIndex !== null && branchFrom() !== message.turnIndex}>
                    <button
                      type="button"
                      class="button button-small button-quiet"
                      aria-label={`Branch from turn ${(message.turnIndex ?? 0) + 1} (${message.speaker})`}
                      onClick={() => setBranchFrom(message.turnIndex ?? undefined)}
                    >
                      Branch from here
                    </button>
                  </Show>
                </MessageCard>
                <Show when={branchFrom() !== undefined && branchFrom() === message.turnIndex}>
                  <BranchForm
                    meeting={meeting()}
                    fromTurnIndex={message.turnIndex ?? 0}
                    speaker={message.speaker}
                    onBranched={(branch) => navigate(`/meetings/${branch.id}`)}
                    onCancel={() => setBranchFrom(undefined)}
                  />
                </Show>
              </li>
            )}
          </For>
          <Show when={live().speaking}>
            {(turn) => (
              <li>
                <StreamingCard turn={turn()} paused={status() === "paused"} />
              </li>
            )}
          </Show>
        </ol>
        <Show when={live().messages.length === 0 && !live().speaking}>
          <p class="empty">
            {status() === "pending"
              ? canEdit()
                ? "The meeting has not started yet. Press Start when you are ready."
                : "The meeting has not started yet. It appears here live once it does."
              : "Nothing has been said yet."}
          </p>
        </Show>
      </section>

      <Show when={summary()}>
        {(s) => <SummaryCard summaryText={s().summaryText} summary={s().summary} heading={summaryHeading(meeting())} />}
      </Show>
    </>
  );
}
