/** /api/v1/desktops and /api/v1/desktop-templates: a user's lab desktops, viewer tickets and share links. */
import type {
  CreatedShare,
  DesktopSession,
  DesktopShare,
  DesktopState,
  DesktopTemplateSummary,
  DesktopTicket,
  SharedDesktopTicket,
  StartDesktopInput,
} from "./desktop-types.ts";
import { apiRequest } from "./http.ts";

const desktop = (sessionId: string) => `/api/v1/desktops/${encodeURIComponent(sessionId)}`;

/** The templates users may start (enabled ones), by name. */
export async function listDesktopTemplates(): Promise<DesktopTemplateSummary[]> {
  return (await apiRequest<{ templates: DesktopTemplateSummary[] }>("GET", "/api/v1/desktop-templates")).templates;
}

/** Starts a desktop; refuses with QUOTA_EXCEEDED or NO_CAPACITY. */
export async function startDesktop(input: StartDesktopInput): Promise<DesktopSession> {
  return (await apiRequest<{ session: DesktopSession }>("POST", "/api/v1/desktops", { body: input })).session;
}

/** The caller's sessions, newest first. */
export async function listDesktops(state?: DesktopState | "live"): Promise<DesktopSession[]> {
  return (await apiRequest<{ sessions: DesktopSession[] }>("GET", "/api/v1/desktops", { query: { state, limit: 100 } })).sessions;
}

export async function getDesktop(sessionId: string): Promise<DesktopSession> {
  return (await apiRequest<{ session: DesktopSession }>("GET", desktop(sessionId))).session;
}

export type DesktopAction = "stop" | "hibernate" | "wake";

export async function actOnDesktop(sessionId: string, action: DesktopAction): Promise<DesktopSession> {
  return (await apiRequest<{ session: DesktopSession }>("POST", `${desktop(sessionId)}/${action}`)).session;
}

/** Deletes a stopped or failed session. */
export function deleteDesktop(sessionId: string): Promise<void> {
  return apiRequest<void>("DELETE", desktop(sessionId));
}

/**
 * A single-use viewer ticket for one of the caller's sessions. `wake`: whether opening a
 * hibernated desktop with it wakes it (the viewer's own reconnects say no).
 */
export function desktopTicket(sessionId: string, options: { viewOnly?: boolean; wake?: boolean } = {}): Promise<DesktopTicket> {
  return apiRequest<DesktopTicket>("POST", `${desktop(sessionId)}/ticket`, {
    body: { viewOnly: options.viewOnly ?? false, wake: options.wake ?? true },
  });
}

/** Redeems a share link's token for a view-only ticket. */
export function sharedDesktopTicket(token: string): Promise<SharedDesktopTicket> {
  return apiRequest<SharedDesktopTicket>("POST", "/api/v1/desktop-shares/ticket", { body: { token } });
}

/** A view-only link for teammates; the token is in this answer only. */
export function createDesktopShare(sessionId: string, expiresInHours = 24, userIds?: string[]): Promise<CreatedShare> {
  return apiRequest<CreatedShare>("POST", `${desktop(sessionId)}/shares`, { body: { expiresInHours, ...(userIds && { userIds }) } });
}

export async function listDesktopShares(sessionId: string): Promise<DesktopShare[]> {
  return (await apiRequest<{ shares: DesktopShare[] }>("GET", `${desktop(sessionId)}/shares`)).shares;
}

export function revokeDesktopShare(sessionId: string, shareId: string): Promise<void> {
  return apiRequest<void>("DELETE", `${desktop(sessionId)}/shares/${encodeURIComponent(shareId)}`);
}
