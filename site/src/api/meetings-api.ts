/** /api/v1/.../meetings: creating, listing, branching and exporting meetings, and their usage. */
import { apiDownload, apiRequest, type DownloadedFile } from "./http.ts";
import type {
  BranchInput,
  Meeting,
  MeetingInput,
  MeetingMessage,
  MeetingSummaryResponse,
  MeetingUsage,
  MeetingWithRole,
  ParallelMeetingInput,
  ParallelMeetings,
} from "./types.ts";

const teamMeetings = (teamId: string) => `/api/v1/teams/${encodeURIComponent(teamId)}/meetings`;
const meeting = (meetingId: string) => `/api/v1/meetings/${encodeURIComponent(meetingId)}`;

/** The team's meetings, newest first. */
export async function listMeetings(teamId: string): Promise<Meeting[]> {
  return (await apiRequest<{ meetings: Meeting[] }>("GET", teamMeetings(teamId))).meetings;
}

export async function createMeeting(teamId: string, input: MeetingInput): Promise<Meeting> {
  return (await apiRequest<{ meeting: Meeting }>("POST", teamMeetings(teamId), { body: input })).meeting;
}

/** Creates K copies of one meeting; a merge meeting joins their group once all have finished. */
export function createParallelMeetings(teamId: string, input: ParallelMeetingInput): Promise<ParallelMeetings> {
  return apiRequest<ParallelMeetings>("POST", `${teamMeetings(teamId)}/parallel`, { body: input });
}

/** The meeting and the caller's role in its team. */
export function getMeeting(meetingId: string): Promise<MeetingWithRole> {
  return apiRequest<MeetingWithRole>("GET", meeting(meetingId));
}

export async function getTranscript(meetingId: string): Promise<MeetingMessage[]> {
  return (await apiRequest<{ messages: MeetingMessage[] }>("GET", `${meeting(meetingId)}/transcript`)).messages;
}

export function getMeetingSummary(meetingId: string): Promise<MeetingSummaryResponse> {
  return apiRequest<MeetingSummaryResponse>("GET", `${meeting(meetingId)}/summary`);
}

export function getMeetingUsage(meetingId: string): Promise<MeetingUsage> {
  return apiRequest<MeetingUsage>("GET", `${meeting(meetingId)}/usage`);
}

export async function branchMeeting(meetingId: string, input: BranchInput): Promise<Meeting> {
  return (await apiRequest<{ meeting: Meeting }>("POST", `${meeting(meetingId)}/branch`, { body: input })).meeting;
}

export type ExportFormat = "md" | "json";

export function exportMeeting(meetingId: string, format: ExportFormat): Promise<DownloadedFile> {
  return apiDownload(`${meeting(meetingId)}/export`, { query: { format } });
}
