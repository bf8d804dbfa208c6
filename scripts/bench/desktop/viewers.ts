/**
 * The viewer's end of the three paths the desktop section compares, behind one small interface:
 * - `atrium`: the browser's socket to the session's DesktopSession (`/api/v1/desktops/{id}/ws`
 *   with a fresh ticket), waiting for `{type:"ready"}` like noVNC's page does; RFB bytes are the
 *   binary frames, text frames are control frames and are kept apart; consumed bytes are
 *   acknowledged every 256 KiB like the site's viewer does;
 * - `websockify`: a socket to websockify's single hop in front of the same TCP source;
 * - `direct`: a plain TCP connection to the source.
 * WebSocket viewers are Node `ws` clients with native masking (`bufferutil`) and without
 * permessage-deflate; the measurements on top (throughput with byte-exact verification, 64-byte
 * round trips) are the same code for all three.
 */
import { connect, type Socket } from "node:net";
import { WebSocket } from "ws";
import { ACK_EVERY_BYTES } from "../../../durable-objects/desktop/protocol.ts";
import { StreamVerifier } from "./pattern.ts";

export type PathKind = "atrium" | "websockify" | "direct";

export interface Pipe {
  send(bytes: Uint8Array): void;
  pause(): void;
  resume(): void;
  close(): void;
  /** one listener for the path's incoming bytes */
  onData(listener: (chunk: Buffer) => void): void;
  /** binary messages (or TCP reads) received so far */
  messages(): number;
  /** rejects when the path fails or closes before `close()` */
  failed: Promise<never>;
}

const MAX_PAYLOAD = 64 * 1024 * 1024;

function wsPipe(url: string, waitReady: boolean): Promise<Pipe> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: MAX_PAYLOAD });
    let listener: (chunk: Buffer) => void = () => {};
    let messages = 0;
    /** Atrium's viewer acknowledges what it consumed, as the site's viewer does (flow control) */
    let unacked = 0;
    let closing = false;
    let fail: (e: Error) => void = () => {};
    const failed = new Promise<never>((_, rej) => {
      fail = rej;
    });
    failed.catch(() => {});
    const pipe: Pipe = {
      send: (bytes) => ws.send(bytes, { binary: true }),
      pause: () => ws.pause(),
      resume: () => ws.resume(),
      close: () => {
        closing = true;
        ws.terminate();
      },
      onData: (l) => {
        listener = l;
      },
      messages: () => messages,
      failed,
    };
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        messages++;
        listener(data);
        if (waitReady) {
          unacked += data.length;
          if (unacked >= ACK_EVERY_BYTES) {
            ws.send(JSON.stringify({ type: "ack", bytes: unacked }));
            unacked = 0;
          }
        }
        return;
      }
      const frame = JSON.parse(data.toString()) as { type: string; code?: string; message?: string };
      if (frame.type === "ready") resolve(pipe);
      else if (frame.type === "error") fail(new Error(`viewer socket: ${frame.code} ${frame.message}`));
    });
    ws.once("open", () => {
      if (!waitReady) resolve(pipe);
    });
    ws.once("unexpected-response", (_req, res) => reject(new Error(`viewer socket refused: HTTP ${res.statusCode}`)));
    ws.on("error", (e) => {
      reject(e);
      fail(e);
    });
    ws.once("close", (code, reason) => {
      const e = new Error(`viewer socket closed (${code} ${reason.toString()})`);
      reject(e);
      if (!closing) fail(e);
    });
  });
}

function tcpPipe(port: number): Promise<Pipe> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({ host: "127.0.0.1", port, noDelay: true });
    let listener: (chunk: Buffer) => void = () => {};
    let reads = 0;
    let closing = false;
    let fail: (e: Error) => void = () => {};
    const failed = new Promise<never>((_, rej) => {
      fail = rej;
    });
    failed.catch(() => {});
    socket.on("data", (d) => {
      reads++;
      listener(d);
    });
    socket.on("error", (e) => {
      reject(e);
      fail(e);
    });
    socket.once("close", () => {
      if (!closing) fail(new Error("TCP connection closed"));
    });
    socket.once("connect", () =>
      resolve({
        send: (bytes) => socket.write(bytes),
        pause: () => socket.pause(),
        resume: () => socket.resume(),
        close: () => {
          closing = true;
          socket.destroy();
        },
        onData: (l) => {
          listener = l;
        },
        messages: () => reads,
        failed,
      }),
    );
  });
}

/** How to open a fresh viewer on one path (a new ticket each time for Atrium). */
export type Opener = () => Promise<Pipe>;

export function atriumOpener(url: () => Promise<string>): Opener {
  return async () => wsPipe(await url(), true);
}
export function websockifyOpener(port: number): Opener {
  return () => wsPipe(`ws://127.0.0.1:${port}/`, false);
}
export function directOpener(port: number): Opener {
  return () => tcpPipe(port);
}

export interface ThroughputRun {
  bytes: number;
  /** first byte to last byte */
  seconds: number;
  mibPerSecond: number;
  messages: number;
  /** every byte arrived, in order, none extra */
  intact: boolean;
  firstBadOffset?: number;
}

/**
 * Reads `bytes` of the verifiable stream from a fresh viewer. `atLastByte` runs right after the
 * last byte, before the viewer closes (per-connection helpers, like websockify's forked child,
 * still exist then for CPU accounting).
 */
export async function readStream(
  open: Opener,
  bytes: number,
  timeoutMs: number,
  atLastByte: () => void = () => {},
): Promise<ThroughputRun> {
  const pipe = await open();
  const verifier = new StreamVerifier();
  let first = 0;
  let last = 0;
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${verifier.bytes} of ${bytes} bytes within ${timeoutMs} ms`)), timeoutMs);
    pipe.onData((chunk) => {
      const t = performance.now();
      if (verifier.bytes === 0) first = t;
      verifier.push(chunk);
      last = t;
      if (verifier.bytes >= bytes) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  try {
    await Promise.race([done, pipe.failed]);
    atLastByte();
  } finally {
    pipe.close();
  }
  const seconds = (last - first) / 1000;
  return {
    bytes: verifier.bytes,
    seconds,
    mibPerSecond: verifier.bytes / 1024 / 1024 / seconds,
    messages: pipe.messages(),
    intact: verifier.ok && verifier.bytes === bytes,
    ...(verifier.firstBadOffset !== undefined && { firstBadOffset: verifier.firstBadOffset }),
  };
}

/** RFB's opening from the client: ProtocolVersion 3.8, security type None, ClientInit shared. */
const HANDSHAKE = Buffer.concat([Buffer.from("RFB 003.008\n"), Buffer.of(1, 1)]);

/** A 64-byte SetEncodings message (15 encodings) carrying a sequence number: an RFB message the relay forwards as is. */
function ping(seq: number): Buffer {
  const out = Buffer.alloc(64);
  out[0] = 2;
  out.writeUInt16BE(15, 2);
  for (let i = 0; i < 15; i++) out.writeInt32BE(seq * 16 + i, 4 + 4 * i);
  return out;
}

export interface RttRun {
  samplesMs: number[];
  /** every echo came back byte-exact and in order */
  intact: boolean;
}

/** Sends 64-byte messages one at a time to the echo server and times each round trip. */
export async function measureRtt(open: Opener, warmup: number, count: number, timeoutMs: number): Promise<RttRun> {
  const pipe = await open();
  let buffered: Buffer = Buffer.alloc(0);
  let waiting: { n: number; resolve: (b: Buffer) => void } | undefined;
  pipe.onData((chunk) => {
    buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
    if (waiting && buffered.length >= waiting.n) {
      const w = waiting;
      waiting = undefined;
      const out = buffered.subarray(0, w.n);
      buffered = buffered.subarray(w.n);
      w.resolve(out);
    }
  });
  const read = (n: number) =>
    new Promise<Buffer>((resolve) => {
      if (buffered.length >= n) {
        const out = buffered.subarray(0, n);
        buffered = buffered.subarray(n);
        resolve(out);
      } else waiting = { n, resolve };
    });
  const samplesMs: number[] = [];
  let intact = true;
  const run = async () => {
    pipe.send(HANDSHAKE);
    if (!(await read(HANDSHAKE.length)).equals(HANDSHAKE)) intact = false;
    for (let seq = 0; seq < warmup + count; seq++) {
      const msg = ping(seq);
      const t0 = performance.now();
      pipe.send(msg);
      const echo = await read(64);
      const t1 = performance.now();
      if (!echo.equals(msg)) intact = false;
      if (seq >= warmup) samplesMs.push(t1 - t0);
    }
  };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`round trips did not finish within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([run(), pipe.failed, timeout]);
  } finally {
    clearTimeout(timer);
    pipe.close();
  }
  return { samplesMs, intact };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}
