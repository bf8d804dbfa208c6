/**
 * Opening one of a session's sockets to its DesktopSession DO (protocol.ts in
 * durable-objects/desktop): the session's `dataUrl` with `conn=<primary | connId>` and
 * `Authorization: Bearer <dataToken>`. Shared by the primary channel and the viewer pipes so
 * both refuse compression (RFB is already encoded; deflate would cost CPU on both ends for
 * little), time out the handshake, and never leak the token into an error message.
 */
import { WebSocket } from "ws";

/** Frames that arrived with the upgrade response, before the opener attached its own listener. */
export interface EarlyMessages {
  /** Stops collecting and returns what was collected, in order. */
  take(): [Buffer, boolean][];
}

export interface OpenedSocket {
  ws: WebSocket;
  early: EarlyMessages;
}

/** The refusal of an upgrade by the hub (its HTTP status), as opposed to a network failure. */
export class DataSocketRefused extends Error {
  override readonly name = "DataSocketRefused";
  readonly status: number | undefined;

  constructor(status: number | undefined) {
    // The token never appears in this message: only the status the hub answered with.
    super(`data socket refused with HTTP ${status}`);
    this.status = status;
  }
}

/** `dataUrl` with its `conn` query parameter set (the DO routes the socket by it). */
export function dataSocketUrl(dataUrl: string, conn: string): string {
  const url = new URL(dataUrl);
  url.searchParams.set("conn", conn);
  return url.toString();
}

/** The bridge never sends a message this big; the hub never should either. */
const MAX_PAYLOAD_BYTES = 32 * 1024 * 1024;

/**
 * Opens `url` with the data token. Resolves once the socket is open; from then on its errors
 * are only reported to `onError` (the 'close' that follows is what ends it).
 */
export function openDataSocket(
  url: string,
  dataToken: string,
  options: { handshakeTimeoutMs: number; onError: (e: Error) => void },
): Promise<OpenedSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, {
      headers: { Authorization: `Bearer ${dataToken}` },
      perMessageDeflate: false,
      handshakeTimeout: options.handshakeTimeoutMs,
      maxPayload: MAX_PAYLOAD_BYTES,
    });
    const fail = (e: Error) => {
      ws.removeAllListeners();
      ws.on("error", () => {});
      ws.terminate();
      reject(e);
    };
    const onResponse = (_req: unknown, res: { statusCode?: number }) => fail(new DataSocketRefused(res.statusCode));
    ws.once("error", fail);
    ws.once("unexpected-response", onResponse);
    ws.once("open", () => {
      ws.off("error", fail);
      ws.off("unexpected-response", onResponse);
      ws.on("error", options.onError);
      // Frames that came with the upgrade response are emitted before the awaiting code resumes
      // (nextTick runs ahead of promise continuations): hold them for the opener.
      const messages: [Buffer, boolean][] = [];
      const collect = (data: Buffer, isBinary: boolean) => messages.push([data, isBinary]);
      ws.on("message", collect);
      resolve({
        ws,
        early: {
          take: () => {
            ws.off("message", collect);
            return messages.splice(0);
          },
        },
      });
    });
  });
}
