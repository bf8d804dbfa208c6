/**
 * Small WebSocket helpers for the Durable Objects: sends and closes that treat a socket already
 * closing as the benign teardown race it is, and what workerd's types leave out.
 */

/** Sends a text frame; a socket that is closing is left to its close handler. */
export function sendText(ws: WebSocket, text: string): void {
  try {
    ws.send(text);
  } catch {
    // The socket is closing; its close handler does the bookkeeping.
  }
}

export function sendJson(ws: WebSocket, frame: unknown): void {
  sendText(ws, JSON.stringify(frame));
}

export function closeQuietly(ws: WebSocket, code: number, reason: string): void {
  try {
    ws.close(code, reason);
  } catch {
    // Already closed: a benign teardown race.
  }
}

/** The code to answer a peer's close with (1005, 1006 and 1015 may not be sent). */
export function replyCloseCode(code: number): number {
  return code >= 1000 && code < 5000 && code !== 1005 && code !== 1006 && code !== 1015 ? code : 1000;
}

export function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
