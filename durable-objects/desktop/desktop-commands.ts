/**
 * The commands a DesktopSession sends its bridge. Start and wake carry the template and a fresh
 * per-session data token; the session keeps only the token's hash (the hub keeps the command,
 * token included, until the bridge has finished it). Where to open the data socket is filled in
 * by the hub at delivery (`dataUrl`): the token goes only to PUBLIC_URL or to the origin the
 * bridge itself dialed, never to one taken from a user's request.
 */
import { randomToken, sha256Hex } from "../../worker/lib/bytes.ts";
import type { CommandAction, Platform, StartPayload, TemplateSpec } from "../bridge/protocol.ts";
import { PRIMARY_CONN } from "./protocol.ts";

/** What a DesktopSession is set up with. */
export interface DesktopInit {
  sessionId: string;
  userId: string;
  bridgeId: string;
  platform: Platform;
  /** a copy of the template as it was at start (later edits do not change a running desktop) */
  template: TemplateSpec;
  /** the VM image of a VM template; its download link is signed at every delivery */
  imageId: string | null;
  /**
   * PUBLIC_URL, the origin bridges reach the Worker at; null when unset: the hub then uses the
   * origin the bridge's own (token-authenticated) control socket dialed. Never a request's Host.
   */
  origin: string | null;
}

/** A command in flight. */
export interface PendingCommand {
  commandId: string;
  action: CommandAction;
  /** the command as sent to the hub; kept (with its data token) only until the hub has it */
  payload: Record<string, unknown> | null;
}

const DEFAULT_SIZE = { width: 1280, height: 800 } as const;

/** Where the bridge opens the session's primary data socket (viewers' sockets differ only in `conn`); `origin` is http(s). */
export function dataUrl(origin: string, sessionId: string): string {
  return `${origin.replace(/^http/, "ws")}/api/v1/desktops/${sessionId}/bridge-data?conn=${PRIMARY_CONN}`;
}

/** A new command for `action`; start / wake come with a fresh data token's hash. */
export async function newCommand(meta: DesktopInit, action: CommandAction): Promise<{ pending: PendingCommand; dataTokenHash?: string }> {
  const commandId = crypto.randomUUID();
  if (action !== "start_session" && action !== "wake_session")
    return { pending: { commandId, action, payload: { sessionId: meta.sessionId } } };
  const dataToken = `dtk_${randomToken(32)}`;
  // dataUrl and imageUrl are filled in by the hub at every delivery.
  const payload: Omit<StartPayload, "dataUrl"> = {
    sessionId: meta.sessionId,
    template: meta.template,
    dataToken,
    imageUrl: null,
    ...DEFAULT_SIZE,
  };
  return { pending: { commandId, action, payload }, dataTokenHash: await sha256Hex(dataToken) };
}
