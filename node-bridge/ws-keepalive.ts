/**
 * Ping/pong liveness for an outbound `ws` socket: a ping every interval, and a socket whose peer
 * did not answer the previous ping is terminated (no close handshake — the peer is gone, and a
 * half-open TCP connection would otherwise look healthy until the kernel gives up, minutes later).
 */
import type { WebSocket } from "ws";

/** Starts the heartbeat; returns a function that stops it. Stops by itself when the socket closes. */
export function keepAlive(ws: WebSocket, intervalMs: number, onDead?: () => void): () => void {
  let alive = true;
  const onPong = () => {
    alive = true;
  };
  ws.on("pong", onPong);
  const timer = setInterval(() => {
    if (!alive) {
      stop();
      onDead?.();
      ws.terminate();
      return;
    }
    alive = false;
    try {
      ws.ping();
    } catch {
      // not open any more; the close handler cleans up
    }
  }, intervalMs);
  timer.unref();
  const stop = () => {
    clearInterval(timer);
    ws.off("pong", onPong);
  };
  ws.once("close", stop);
  return stop;
}
