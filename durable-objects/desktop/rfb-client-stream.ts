/**
 * A streaming parser of the client → server half of RFB (RFC 6143) that decides, message by
 * message, what the relay forwards to the desktop. View-only viewers must not move the desktop:
 * their input messages are dropped here, whatever the chunk boundaries, without ever buffering
 * more than a message header. Pure: no I/O, state is a small JSON-able object so the DO can keep
 * it in a socket attachment across hibernation.
 *
 * Handshake (always forwarded): ProtocolVersion (12 bytes), then the security type: in 3.7 and
 * later the client's choice (1 byte); in 3.3 the server dictates it (a u32 after its version) and
 * the client sends nothing, so the relay shows the parser the server's first bytes too
 * (`pushServer`). For VNC authentication the client's 16-byte response follows, then ClientInit
 * (1 byte; forced to "shared" for view-only viewers so they cannot disconnect everyone else).
 * Version 3.4–3.6 are 3.3 (RFC 6143 §7.1.1). Then messages:
 *
 * | type | message                      | length            | view-only |
 * |------|------------------------------|-------------------|-----------|
 * | 0    | SetPixelFormat               | 20                | forwarded |
 * | 2    | SetEncodings                 | 4 + 4n            | forwarded |
 * | 3    | FramebufferUpdateRequest     | 10                | forwarded |
 * | 4    | KeyEvent                     | 8                 | dropped   |
 * | 5    | PointerEvent                 | 6                 | dropped   |
 * | 6    | ClientCutText                | 8 + abs(len)      | dropped   |
 * | 150  | EnableContinuousUpdates      | 10                | forwarded |
 * | 248  | ClientFence                  | 9 + len           | forwarded |
 * | 250  | xvp (shutdown/reboot/reset)  | 4                 | dropped   |
 * | 251  | SetDesktopSize               | 8 + 16n           | dropped   |
 * | 253  | gii (input devices)          | 4 + len           | dropped   |
 * | 255  | QEMU: 0 extended key event   | 12                | dropped   |
 * | 255  | QEMU: 1 audio (ops 0/1, 2)   | 4, 10             | forwarded |
 *
 * The extensions beyond RFC 6143 are the ones noVNC sends. A stream this parser cannot follow
 * (other security types, unknown message types, a client that speaks before the server said
 * which security type 3.3 uses) is passed through untouched for the controlling viewer and
 * refused for a filtered one: an unparseable stream cannot be filtered.
 */

export type RfbPhase = "version" | "security" | "server-security" | "vnc-auth" | "client-init" | "messages" | "opaque";

/** The parser's whole state; JSON-serialisable. */
export interface RfbClientState {
  phase: RfbPhase;
  /** bytes of the current handshake unit or message header seen so far */
  header: number[];
  /** message body bytes still to come (phase "messages", inside a message) */
  remaining: number;
  /** whether the message in progress is forwarded (while its header is held: whether it started unfiltered) */
  forward: boolean;
  /**
   * the server's first SERVER_PREFIX_BYTES (its version, then in 3.3 the security type); absent in
   * states persisted before 3.3 support, which read as none seen
   */
  server?: number[];
}

export interface RfbPushResult {
  /** the bytes to forward: the chunk itself when nothing was dropped or changed */
  forward: Uint8Array;
  /** KeyEvent / PointerEvent / QEMU key events forwarded: the viewer's real input */
  inputs: number;
  /** messages dropped */
  dropped: number;
  /** set when the stream cannot be filtered: the viewer must be disconnected */
  error?: string;
}

interface Measured {
  total: number;
  /** moves the desktop: dropped for filtered viewers */
  control: boolean;
  /** counts as the user's activity for idle reaping */
  input: boolean;
}
type Measure = Measured | { need: number } | { unknown: true };

const VERSION_BYTES = 12;
/** server version + 3.3's u32 security type */
const SERVER_PREFIX_BYTES = VERSION_BYTES + 4;
const VNC_AUTH_RESPONSE_BYTES = 16;
const SECURITY_NONE = 1;
const SECURITY_VNC_AUTH = 2;

const u16be = (h: readonly number[], at: number) => ((h[at] ?? 0) << 8) | (h[at + 1] ?? 0);
const u16le = (h: readonly number[], at: number) => ((h[at + 1] ?? 0) << 8) | (h[at] ?? 0);
const s32be = (h: readonly number[], at: number) =>
  ((h[at] ?? 0) << 24) | ((h[at + 1] ?? 0) << 16) | ((h[at + 2] ?? 0) << 8) | (h[at + 3] ?? 0);

const fixed = (total: number, control = false, input = false): Measured => ({ total, control, input });

/** The total length and fate of the message whose first bytes are `h`, or how many bytes are needed to tell. */
function measure(h: readonly number[]): Measure {
  switch (h[0]) {
    case 0:
      return fixed(20);
    case 2:
      return h.length < 4 ? { need: 4 } : fixed(4 + 4 * u16be(h, 2));
    case 3:
      return fixed(10);
    case 4:
      return fixed(8, true, true);
    case 5:
      return fixed(6, true, true);
    case 6:
      // A negative length is the Extended Clipboard pseudo-encoding's form: abs(len) bytes follow.
      return h.length < 8 ? { need: 8 } : fixed(8 + Math.abs(s32be(h, 4)), true);
    case 150:
      return fixed(10);
    case 248:
      return h.length < 9 ? { need: 9 } : fixed(9 + (h[8] ?? 0));
    case 250:
      return fixed(4, true);
    case 251:
      return h.length < 8 ? { need: 8 } : fixed(8 + 16 * (h[6] ?? 0), true);
    case 253: {
      if (h.length < 4) return { need: 4 };
      const bigEndian = ((h[1] ?? 0) & 0x80) !== 0;
      return fixed(4 + (bigEndian ? u16be(h, 2) : u16le(h, 2)), true);
    }
    case 255:
      if (h.length < 2) return { need: 2 };
      if (h[1] === 0) return fixed(12, true, true);
      if (h[1] === 1) {
        if (h.length < 4) return { need: 4 };
        const op = u16be(h, 2);
        if (op === 0 || op === 1) return fixed(4);
        if (op === 2) return fixed(10);
      }
      return { unknown: true };
    default:
      return { unknown: true };
  }
}

/** "RFB 003.008\n" and the like. */
function parseVersion(h: readonly number[]): { major: number; minor: number } | undefined {
  const text = String.fromCharCode(...h);
  const m = /^RFB (\d{3})\.(\d{3})\n$/.exec(text);
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]) };
}

/**
 * Which security handshake a client version leads to: "choice" (3.7+: the client sends a type
 * byte), "dictated" (3.3, and 3.4–3.6 which RFC 6143 says to treat as 3.3), or undefined for
 * what this parser does not follow. `server` is the server's version when already seen: a client
 * claiming 3.7+ to a 3.3 server would desynchronise us from the server, so that is not followed.
 */
function securityHandshake(client: readonly number[], server: readonly number[] | undefined): "choice" | "dictated" | undefined {
  const v = parseVersion(client);
  if (v?.major !== 3 || v.minor < 3) return undefined;
  if (v.minor < 7) return "dictated";
  const s = server && server.length >= VERSION_BYTES ? parseVersion(server.slice(0, VERSION_BYTES)) : undefined;
  if (s && (s.major !== 3 || s.minor < 7)) return undefined;
  return "choice";
}

export function initialRfbState(): RfbClientState {
  return { phase: "version", header: [], remaining: 0, forward: true, server: [] };
}

/** Collects the output of one push: ranges of the chunk and, rarely, bytes of earlier chunks. */
class Output {
  readonly #chunk: Uint8Array;
  readonly #parts: Uint8Array[] = [];
  #runStart = -1;
  #runEnd = -1;

  constructor(chunk: Uint8Array) {
    this.#chunk = chunk;
  }

  range(start: number, end: number): void {
    if (end <= start) return;
    if (this.#runEnd === start) {
      this.#runEnd = end;
      return;
    }
    this.#flushRun();
    this.#runStart = start;
    this.#runEnd = end;
  }

  bytes(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.#flushRun();
    this.#parts.push(bytes);
  }

  #flushRun(): void {
    if (this.#runStart >= 0) this.#parts.push(this.#chunk.subarray(this.#runStart, this.#runEnd));
    this.#runStart = -1;
    this.#runEnd = -1;
  }

  result(): Uint8Array {
    if (this.#parts.length === 0 && this.#runStart === 0 && this.#runEnd === this.#chunk.length) return this.#chunk;
    this.#flushRun();
    if (this.#parts.length === 1) return this.#parts[0] as Uint8Array;
    const total = this.#parts.reduce((n, p) => n + p.length, 0);
    const out = new Uint8Array(total);
    let at = 0;
    for (const p of this.#parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

/** One viewer's client → server stream. */
export class RfbClientStream {
  #s: RfbClientState;

  constructor(state: RfbClientState = initialRfbState()) {
    this.#s = { ...state, header: [...state.header], server: [...(state.server ?? [])] };
  }

  /** The state to persist (a copy). */
  snapshot(): RfbClientState {
    return { ...this.#s, header: [...this.#s.header], server: [...(this.#s.server ?? [])] };
  }

  /**
   * Shows the parser bytes the server sent this viewer, in order and before the viewer gets
   * them: RFB 3.3's security type comes from the server. Only the first few bytes matter; later
   * calls return at once. Returns whether the state changed (worth persisting).
   */
  pushServer(chunk: Uint8Array): boolean {
    const s = this.#s;
    s.server ??= [];
    const server = s.server;
    if (server.length >= SERVER_PREFIX_BYTES || s.phase === "messages" || s.phase === "opaque") return false;
    const take = Math.min(SERVER_PREFIX_BYTES - server.length, chunk.length);
    for (let k = 0; k < take; k++) server.push(chunk[k] ?? 0);
    if (s.phase === "server-security") this.#securityDictated();
    return take > 0;
  }

  /** RFB 3.3: once the server's u32 security type is known, the client's next bytes are known too. */
  #securityDictated(): void {
    const s = this.#s;
    const server = s.server ?? [];
    if (server.length < SERVER_PREFIX_BYTES) return;
    const type = s32be(server, VERSION_BYTES);
    if (type === SECURITY_NONE) s.phase = "client-init";
    else if (type === SECURITY_VNC_AUTH) {
      s.phase = "vnc-auth";
      s.remaining = VNC_AUTH_RESPONSE_BYTES;
    } else s.phase = "opaque"; // 0: the server refused the connection (a reason and the close follow)
  }

  /** A short key that changes only when the state is worth persisting again (not at every message boundary). */
  checkpointKey(): string {
    const s = this.#s;
    if ((s.phase === "messages" || s.phase === "opaque") && s.header.length === 0 && s.remaining === 0) return s.phase;
    return JSON.stringify(s);
  }

  /**
   * Feeds the next chunk. `filtered` = this viewer may not control the desktop right now; it
   * decides the fate of each message that starts in this chunk.
   */
  push(chunk: Uint8Array, filtered: boolean): RfbPushResult {
    const s = this.#s;
    const out = new Output(chunk);
    let inputs = 0;
    let dropped = 0;
    let i = 0;
    const n = chunk.length;

    while (i < n) {
      switch (s.phase) {
        case "version": {
          const take = Math.min(VERSION_BYTES - s.header.length, n - i);
          for (let k = 0; k < take; k++) s.header.push(chunk[i + k] ?? 0);
          out.range(i, i + take);
          i += take;
          if (s.header.length === VERSION_BYTES) {
            const handshake = securityHandshake(s.header, s.server);
            s.header = [];
            s.phase = handshake === "choice" ? "security" : handshake === "dictated" ? "server-security" : "opaque";
            // The server normally answers only after this version, but need not wait for it.
            if (s.phase === "server-security") this.#securityDictated();
          }
          break;
        }
        case "server-security": {
          // A 3.3 client waits for the server's security type (which the relay shows the parser
          // before the client can see it): bytes now are not RFB, and cannot be filtered.
          s.phase = "opaque";
          break;
        }
        case "security": {
          const type = chunk[i] ?? 0;
          out.range(i, i + 1);
          i += 1;
          s.phase = type === SECURITY_NONE ? "client-init" : type === SECURITY_VNC_AUTH ? "vnc-auth" : "opaque";
          if (s.phase === "vnc-auth") s.remaining = VNC_AUTH_RESPONSE_BYTES;
          break;
        }
        case "vnc-auth": {
          const take = Math.min(s.remaining, n - i);
          out.range(i, i + take);
          i += take;
          s.remaining -= take;
          if (s.remaining === 0) s.phase = "client-init";
          break;
        }
        case "client-init": {
          // Shared = 1: an exclusive ClientInit would disconnect every other viewer.
          if (filtered && chunk[i] !== 1) out.bytes(Uint8Array.of(1));
          else out.range(i, i + 1);
          i += 1;
          s.phase = "messages";
          break;
        }
        case "opaque": {
          if (filtered)
            return this.#refuse(
              out,
              inputs,
              dropped,
              "This viewer's RFB stream cannot be filtered (unsupported version, security type or message).",
            );
          out.range(i, n);
          // Unknown content: count it as activity rather than reap a desktop someone is using.
          inputs += 1;
          i = n;
          break;
        }
        case "messages": {
          if (s.remaining > 0) {
            const take = Math.min(s.remaining, n - i);
            if (s.forward) out.range(i, i + take);
            i += take;
            s.remaining -= take;
            break;
          }
          // A message's fate is fixed when it starts. A controller's message streams through as it
          // arrives; a filtered viewer's header is held until its type (and subtype) are known.
          if (s.header.length === 0) s.forward = !filtered;
          const headerStartInChunk = i - s.header.length;
          const collectedFrom = i;
          let m: Measure = s.header.length > 0 ? measure(s.header) : { need: 1 };
          while ("need" in m && i < n) {
            while (s.header.length < m.need && i < n) s.header.push(chunk[i++] ?? 0);
            if (s.header.length < m.need) break;
            m = measure(s.header);
          }
          if (s.forward) out.range(collectedFrom, i);
          if ("need" in m) break; // the chunk ended inside the header
          if ("unknown" in m) {
            if (!s.forward) return this.#refuse(out, inputs, dropped, `Unknown RFB message type ${s.header[0]} from a view-only viewer.`);
            s.header = [];
            s.phase = "opaque";
            inputs += 1;
            break;
          }
          if (s.forward) {
            if (m.input) inputs += 1;
          } else if (m.control) {
            dropped += 1;
          } else {
            this.#emitHeader(out, headerStartInChunk, i);
            s.forward = true;
          }
          s.remaining = m.total - s.header.length;
          s.header = [];
          break;
        }
      }
    }
    return { forward: out.result(), inputs, dropped };
  }

  /** Header bytes: a range when they all came in this chunk, else a copy of what was held. */
  #emitHeader(out: Output, startInChunk: number, end: number): void {
    if (startInChunk >= 0) out.range(startInChunk, end);
    else out.bytes(Uint8Array.from(this.#s.header));
  }

  #refuse(out: Output, inputs: number, dropped: number, error: string): RfbPushResult {
    this.#s.phase = "opaque";
    return { forward: out.result(), inputs, dropped, error };
  }
}
