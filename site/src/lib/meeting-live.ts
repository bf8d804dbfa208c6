/**
 * What a meeting looks like right now, folded from its REST record, its stored transcript and
 * the events of its room socket. Pure: `applyMeetingEvent` returns a new state, so replays,
 * duplicates and late joiners all end in the same picture (finished messages are keyed by
 * `position`; a turn that has finished no longer streams).
 */
import type { MeetingEvent, MeetingMessage, MeetingState } from "../../../durable-objects/meeting/protocol.ts";
import type { Meeting, PresenceEntry } from "../api/types.ts";

/** The turn being spoken: its text grows with every `token` event. */
export interface SpeakingTurn {
  turnIndex: number;
  round: number;
  kind: string;
  speaker: string;
  model: string;
  text: string;
}

export interface MeetingCompletion {
  summaryText: string;
  summary: Record<string, unknown>;
  costUsd: number;
}

export interface LiveMeeting {
  state: MeetingState;
  /** from the last `round_start` */
  round: { round: number; rounds: number } | undefined;
  /** finished turns and interjections, ordered by position */
  messages: MeetingMessage[];
  speaking: SpeakingTurn | undefined;
  /** the first people watching (the room names at most PRESENCE_LIST_LIMIT) */
  viewers: PresenceEntry[];
  /** how many people watch in all */
  viewerCount: number;
  completion: MeetingCompletion | undefined;
  /** the last error the meeting reported in its log (e.g. why it failed) */
  error: { code: string; message: string } | undefined;
}

const FINISHED = new Set(["completed", "failed", "cancelled"]);

export function isFinishedStatus(status: string): boolean {
  return FINISHED.has(status);
}

/** The starting picture from the REST record and transcript, before any socket event. */
export function initialLiveMeeting(meeting: Meeting, transcript: readonly MeetingMessage[]): LiveMeeting {
  return {
    state: {
      status: meeting.status,
      completedTurns: meeting.completedTurns,
      totalTurns: meeting.totalTurns,
      costUsd: meeting.costUsd,
      provider: meeting.provider,
      errorCode: meeting.errorCode,
      errorMessage: meeting.errorMessage,
    },
    round: undefined,
    messages: mergeMessages([], transcript),
    speaking: undefined,
    viewers: [],
    viewerCount: 0,
    completion:
      meeting.summaryText !== null
        ? { summaryText: meeting.summaryText, summary: meeting.summary ?? {}, costUsd: meeting.costUsd }
        : undefined,
    error: undefined,
  };
}

/**
 * Adds messages not yet known (by position) and keeps the list in order. A finished message never
 * changes, so a known one keeps its object (and its rendered card); with nothing new the same list
 * comes back, so a replay of what the transcript already had changes nothing.
 */
export function mergeMessages(existing: readonly MeetingMessage[], incoming: readonly MeetingMessage[]): MeetingMessage[] {
  const known = new Set(existing.map((m) => m.position));
  const added = incoming.filter((m) => !known.has(m.position) && known.add(m.position));
  if (added.length === 0) return existing as MeetingMessage[];
  return [...existing, ...added].sort((a, b) => a.position - b.position);
}

function hasFinished(live: LiveMeeting, turnIndex: number): boolean {
  return live.messages.some((m) => m.turnIndex === turnIndex);
}

export function applyMeetingEvent(live: LiveMeeting, event: MeetingEvent): LiveMeeting {
  switch (event.type) {
    case "presence":
      return { ...live, viewers: event.viewers, viewerCount: event.users };
    case "meeting_state": {
      const { seq: _seq, at: _at, type: _type, ...state } = event;
      // A finished meeting speaks no more: drop a turn that was cut off.
      return { ...live, state, speaking: isFinishedStatus(state.status) ? undefined : live.speaking };
    }
    case "round_start":
      return { ...live, round: { round: event.round, rounds: event.rounds } };
    case "agent_speaking":
      if (hasFinished(live, event.turnIndex)) return live;
      // Restarting a turn (after a resume, or on replay) starts its text again.
      return {
        ...live,
        speaking: {
          turnIndex: event.turnIndex,
          round: event.round,
          kind: event.kind,
          speaker: event.speaker,
          model: event.model,
          text: "",
        },
      };
    case "token": {
      if (hasFinished(live, event.turnIndex)) return live;
      const current = live.speaking;
      if (current?.turnIndex === event.turnIndex) return { ...live, speaking: { ...current, text: current.text + event.text } };
      // The turn's start was not seen (a trimmed log): stream it under an unknown speaker.
      return {
        ...live,
        speaking: { turnIndex: event.turnIndex, round: live.round?.round ?? 0, kind: "", speaker: "", model: "", text: event.text },
      };
    }
    case "message": {
      const messages = mergeMessages(live.messages, [event.message]);
      const speaking = live.speaking?.turnIndex === event.message.turnIndex ? undefined : live.speaking;
      return messages === live.messages && speaking === live.speaking ? live : { ...live, messages, speaking };
    }
    case "round_complete":
      return live;
    case "meeting_complete":
      return {
        ...live,
        speaking: undefined,
        completion: { summaryText: event.summaryText, summary: event.summary, costUsd: event.costUsd },
      };
    case "error":
      return { ...live, error: { code: event.code, message: event.message } };
  }
}
