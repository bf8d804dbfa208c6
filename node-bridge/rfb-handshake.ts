/**
 * The bridge's side of an RFB (RFC 6143) handshake when a desktop's VNC server wants a password
 * the viewer does not have. The bridge authenticates to the VNC server itself (VNC
 * authentication, security type 2) and then offers its viewer security type None, so browsers
 * (noVNC) never see the password and the DesktopSession DO's client-stream parser sees the same
 * handshake as from a password-less server. After both halves are done the two streams are plain
 * RFB (ClientInit / ServerInit onwards are the same in every protocol version) and are piped
 * unchanged.
 *
 * Two independent state machines, pure (no I/O): `VncServerLogin` is the client half towards the
 * VNC server (any of RFB 3.3, 3.7 and 3.8; it answers with the server's version up to 3.8) and
 * `ViewerNoneHandshake` is the server half towards the viewer (3.3, 3.7 and 3.8 viewers). Each
 * `push` takes the bytes received so far and returns what to send back, and once done the bytes
 * that arrived after the handshake (they belong to the plain stream).
 */
import { createCipheriv } from "node:crypto";

/** What a driver says about its endpoint's RFB security: nothing (open), or a VNC password. */
export type VncAuth = { type: "none" } | { type: "vnc"; password: string };

export interface HandshakeStep {
  /** bytes to send to the peer now (may be empty) */
  send: Buffer;
  /** set once the handshake is over: bytes received after it, for the plain stream */
  done?: { rest: Buffer };
  /** set when the handshake failed; nothing more will be accepted */
  error?: string;
}

const SECURITY_INVALID = 0;
const SECURITY_NONE = 1;
const SECURITY_VNC_AUTH = 2;
/** Longest failure reason the machines will wait for (a server sending more is broken). */
const MAX_REASON = 4096;

/**
 * The 16-byte response to a VNC-authentication challenge: the challenge DES-encrypted (ECB) with
 * the password as key — its first 8 bytes, zero-padded, each byte's bit order reversed (VNC's
 * DES takes key bits least-significant first). OpenSSL 3's default provider has no single DES,
 * so this is 3DES with the key repeated three times, which is the same cipher.
 */
export function vncAuthResponse(password: string, challenge: Uint8Array): Buffer {
  if (challenge.length !== 16) throw new Error("a VNC challenge is 16 bytes");
  return vncDesEncrypt(Buffer.from(password, "latin1").subarray(0, 8), challenge);
}

/** VNC's DES flavour: ECB with a bit-mirrored key of up to 8 bytes (zero-padded). */
export function vncDesEncrypt(key: Uint8Array, data: Uint8Array): Buffer {
  const mirrored = Buffer.alloc(8);
  for (let i = 0; i < Math.min(8, key.length); i++) mirrored[i] = reverseBits(key[i] ?? 0);
  const cipher = createCipheriv("des-ede3", Buffer.concat([mirrored, mirrored, mirrored]), null);
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(data), cipher.final()]);
}

function reverseBits(byte: number): number {
  let r = 0;
  for (let i = 0; i < 8; i++) if (byte & (1 << i)) r |= 1 << (7 - i);
  return r;
}

/** Parses "RFB xxx.yyy\n"; undefined when the 12 bytes are not a version. */
function parseVersion(bytes: Buffer): { major: number; minor: number } | undefined {
  const m = /^RFB (\d{3})\.(\d{3})\n$/.exec(bytes.toString("latin1"));
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : undefined;
}

/**
 * RFC 6143 §7.1.1: a server may only see 3.3, 3.7 or 3.8; other versions a peer announces are
 * read as 3.3, and anything newer than 3.8 as 3.8.
 */
function effectiveMinor(v: { major: number; minor: number }): 3 | 7 | 8 {
  if (v.major > 3 || (v.major === 3 && v.minor >= 8)) return 8;
  if (v.major === 3 && v.minor === 7) return 7;
  return 3;
}

const versionBytes = (minor: 3 | 7 | 8) => Buffer.from(`RFB 003.00${minor}\n`, "latin1");
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n, 0);
  return b;
};

/** Accumulates received bytes and hands them out exactly. */
class Input {
  #buffer = Buffer.alloc(0);

  add(bytes: Uint8Array): void {
    this.#buffer = this.#buffer.length === 0 ? Buffer.from(bytes) : Buffer.concat([this.#buffer, bytes]);
  }

  has(n: number): boolean {
    return this.#buffer.length >= n;
  }

  peek(n: number): Buffer {
    return this.#buffer.subarray(0, n);
  }

  take(n: number): Buffer {
    const out = this.#buffer.subarray(0, n);
    this.#buffer = this.#buffer.subarray(n);
    return out;
  }

  rest(): Buffer {
    return this.take(this.#buffer.length);
  }
}

type ServerPhase = "version" | "types-3.3" | "types" | "challenge" | "result" | "reason" | "done" | "failed";

/**
 * The bridge as RFB client of a VNC server that requires VNC authentication. Refuses a server
 * that does not offer it (no silent downgrade to None: the driver said this endpoint has a
 * password, so a server without one is not the one the driver started).
 */
export class VncServerLogin {
  readonly #password: string;
  readonly #in = new Input();
  #phase: ServerPhase = "version";
  #minor: 3 | 7 | 8 = 8;
  /** why we are reading a reason string: prefixes the error */
  #reasonFor = "";

  constructor(password: string) {
    this.#password = password;
  }

  get done(): boolean {
    return this.#phase === "done";
  }

  push(bytes: Uint8Array): HandshakeStep {
    if (this.#phase === "done" || this.#phase === "failed") return this.#fail("the handshake is over");
    this.#in.add(bytes);
    const send: Buffer[] = [];
    for (;;) {
      switch (this.#phase) {
        case "version": {
          if (!this.#in.has(12)) return { send: Buffer.concat(send) };
          const v = parseVersion(this.#in.take(12));
          if (v?.major !== 3) return this.#fail("the VNC server did not greet with an RFB 3.x version");
          this.#minor = effectiveMinor(v);
          send.push(versionBytes(this.#minor));
          this.#phase = this.#minor === 3 ? "types-3.3" : "types";
          break;
        }
        case "types-3.3": {
          if (!this.#in.has(4)) return { send: Buffer.concat(send) };
          const type = this.#in.take(4).readUInt32BE(0);
          if (type === SECURITY_INVALID) {
            this.#reasonFor = "the VNC server refused the connection";
            this.#phase = "reason";
            break;
          }
          if (type !== SECURITY_VNC_AUTH) return this.#fail(`the VNC server chose security type ${type}, not VNC authentication`);
          this.#phase = "challenge";
          break;
        }
        case "types": {
          if (!this.#in.has(1)) return { send: Buffer.concat(send) };
          const count = this.#in.peek(1).readUInt8(0);
          if (count === 0) {
            this.#in.take(1);
            this.#reasonFor = "the VNC server refused the connection";
            this.#phase = "reason";
            break;
          }
          if (!this.#in.has(1 + count)) return { send: Buffer.concat(send) };
          const types = [...this.#in.take(1 + count).subarray(1)];
          if (!types.includes(SECURITY_VNC_AUTH))
            return this.#fail(`the VNC server does not offer VNC authentication (offers ${types.join(", ")})`);
          send.push(Buffer.of(SECURITY_VNC_AUTH));
          this.#phase = "challenge";
          break;
        }
        case "challenge": {
          if (!this.#in.has(16)) return { send: Buffer.concat(send) };
          send.push(vncAuthResponse(this.#password, this.#in.take(16)));
          this.#phase = "result";
          break;
        }
        case "result": {
          if (!this.#in.has(4)) return { send: Buffer.concat(send) };
          const result = this.#in.take(4).readUInt32BE(0);
          if (result === 0) {
            this.#phase = "done";
            return { send: Buffer.concat(send), done: { rest: this.#in.rest() } };
          }
          // Only 3.8 servers explain a failed SecurityResult.
          if (this.#minor !== 8) return this.#fail("the VNC server refused the password");
          this.#reasonFor = "the VNC server refused the password";
          this.#phase = "reason";
          break;
        }
        case "reason": {
          if (!this.#in.has(4)) return { send: Buffer.concat(send) };
          const length = this.#in.peek(4).readUInt32BE(0);
          if (length > MAX_REASON) return this.#fail(this.#reasonFor);
          if (!this.#in.has(4 + length)) return { send: Buffer.concat(send) };
          const reason = this.#in
            .take(4 + length)
            .subarray(4)
            .toString("utf8");
          return this.#fail(reason ? `${this.#reasonFor}: ${reason}` : this.#reasonFor);
        }
        default:
          return this.#fail("the handshake is over");
      }
    }
  }

  #fail(error: string): HandshakeStep {
    this.#phase = "failed";
    return { send: Buffer.alloc(0), error };
  }
}

type ViewerPhase = "version" | "choice" | "done" | "failed";

/**
 * The bridge as RFB server towards a viewer, offering only security type None. Starts by sending
 * `greeting()` ("RFB 003.008\n"); the viewer may answer 3.3, 3.7 or 3.8.
 */
export class ViewerNoneHandshake {
  readonly #in = new Input();
  #phase: ViewerPhase = "version";
  #minor: 3 | 7 | 8 = 8;

  /** The server's first message. */
  greeting(): Buffer {
    return versionBytes(8);
  }

  get done(): boolean {
    return this.#phase === "done";
  }

  /** The protocol version the viewer chose (3.3, 3.7 or 3.8), once known. */
  get viewerVersion(): string | undefined {
    return this.#phase === "version" ? undefined : `3.${this.#minor}`;
  }

  push(bytes: Uint8Array): HandshakeStep {
    if (this.#phase === "done" || this.#phase === "failed") return { send: Buffer.alloc(0), error: "the handshake is over" };
    this.#in.add(bytes);
    const send: Buffer[] = [];
    if (this.#phase === "version") {
      if (!this.#in.has(12)) return { send: Buffer.alloc(0) };
      const v = parseVersion(this.#in.take(12));
      if (v?.major !== 3) {
        this.#phase = "failed";
        return { send: Buffer.alloc(0), error: "the viewer did not answer with an RFB 3.x version" };
      }
      this.#minor = effectiveMinor(v);
      if (this.#minor === 3) {
        // 3.3: the server decides; None has no SecurityResult, ClientInit comes next.
        this.#phase = "done";
        return { send: u32(SECURITY_NONE), done: { rest: this.#in.rest() } };
      }
      send.push(Buffer.of(1, SECURITY_NONE));
      this.#phase = "choice";
    }
    if (!this.#in.has(1)) return { send: Buffer.concat(send) };
    const choice = this.#in.take(1).readUInt8(0);
    if (choice !== SECURITY_NONE) {
      this.#phase = "failed";
      const reason = Buffer.from("only security type None is offered", "utf8");
      // 3.8 viewers are told why; 3.7 ones just see the connection close.
      if (this.#minor === 8) send.push(u32(1), u32(reason.length), reason);
      return { send: Buffer.concat(send), error: `the viewer chose security type ${choice}, not None` };
    }
    this.#phase = "done";
    // 3.8 sends a SecurityResult for None too; 3.7 goes straight to ClientInit.
    if (this.#minor === 8) send.push(u32(0));
    return { send: Buffer.concat(send), done: { rest: this.#in.rest() } };
  }
}
