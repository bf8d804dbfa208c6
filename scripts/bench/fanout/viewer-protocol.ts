/**
 * Messages between the fan-out section (scripts/bench/fanout/fanout.ts) and its viewer process
 * (viewers.ts), over Node's IPC channel. Types only.
 */

export interface ConnectCommand {
  type: "connect";
  /** ws://… of the room */
  url: string;
  /** Sec-WebSocket-Protocol values to offer (Atrium: atrium.v1 + the bearer token) */
  protocols: string[];
  count: number;
  /** sockets opened concurrently */
  batch: number;
  /** offer permessage-deflate (browsers always do) */
  deflate: boolean;
  /** which frames are the measured stream: Atrium token frames of this turn, or every partyserver frame */
  kind: "atrium" | "partyserver";
  turnIndex: number;
  /** the exact text the stream must add up to (checked per viewer) */
  expectedText: string;
  /** every token of the reply has this many characters (token index = text offset / tokenChars) */
  tokenChars: number;
  /** give up connecting after this long */
  timeoutMs: number;
}

/** Socket 0 sends this text (Atrium: `{"type":"start"}`). */
export interface SendCommand {
  type: "send";
  text: string;
}

export interface ProgressCommand {
  type: "progress";
}

/** The model's send time of each token (ms since the epoch), for token-level latency. */
export interface FinishCommand {
  type: "finish";
  tokenSentAt: number[];
}

export type ViewerCommand = ConnectCommand | SendCommand | ProgressCommand | FinishCommand;

export interface ConnectedReport {
  type: "connected";
  opened: number;
  failed: number;
  firstError?: string;
  /** negotiated Sec-WebSocket-Extensions values and how many sockets got each */
  extensions: Record<string, number>;
  ms: number;
}

export interface ProgressReport {
  type: "progress";
  /** lowest / highest last seq over the open viewers (equal when every viewer is caught up) */
  minSeq: number;
  maxSeq: number;
  /** stream frames received so far, all viewers */
  deliveries: number;
  /** viewers that have the whole expected text */
  complete: number;
  open: number;
  /** ms since the epoch of the last stream frame received */
  lastStreamAt: number;
}

export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

export interface ResultReport {
  type: "result";
  viewers: number;
  open: number;
  /** stream frames delivered (all viewers) */
  deliveries: number;
  /** tokens delivered (all viewers) */
  tokenDeliveries: number;
  /** first and last stream frame received (ms since the epoch) */
  firstAt: number;
  lastAt: number;
  /** receive time − the room's stamp in the frame (`firstAt` for Atrium, `at` for partyserver), per frame delivery */
  frameLatency: LatencySummary;
  /** receive time − when the model sent the token (the tap in front of the stand-in), per token delivery */
  tokenLatency: LatencySummary;
  /** per stream frame: the room's stamp − when the model sent the frame's first token (how late the room read the model's stream) */
  inputDelay: LatencySummary;
  /** seq gaps (events never received between two received ones), summed over viewers */
  /** seq gaps among live events (from the stream's start) */
  lost: number;
  /** seq gaps in the join replay, where the room leaves out superseded events (not losses) */
  snapshotGaps: number;
  duplicates: number;
  outOfOrder: number;
  /** stream text that did not match the expected text at its offset */
  textMismatches: number;
  /** viewers that did not get the whole text before the measurement ended, and the tokens they missed */
  incompleteViewers: number;
  tokensNotDelivered: number;
  /** sockets that closed during the measurement */
  closed: number;
  /** frames per stream frame (the room's frames, counted once): how many tokens each carried */
  tokensPerFrame: { mean: number; max: number };
  /** distinct stream frames (by seq) */
  streamFrames: number;
  /** bytes received (payload, after decompression), all viewers */
  payloadBytes: number;
  /** everything received before the stream's first frame: frames and bytes per viewer (join/presence traffic) */
  beforeStream: { framesPerViewer: number; bytesPerViewer: number };
}

export interface ErrorReport {
  type: "error";
  message: string;
}

export type ViewerReport = ConnectedReport | ProgressReport | ResultReport | ErrorReport;
