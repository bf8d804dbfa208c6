/**
 * A minimal RFB (VNC) client for tests: protocol version 3.8 or 3.3, security type None or VNC
 * authentication, ClientInit, ServerInit, and one raw-encoded framebuffer update of a small
 * rectangle — enough to prove that a desktop really serves pixels and what colour they are.
 */
import { connect, type Socket } from "node:net";
import { vncAuthResponse } from "../../../node-bridge/rfb-handshake.ts";

export interface RfbClientOptions {
  /** the version the client answers with (default 3.8) */
  version?: "3.3" | "3.8";
  /** use VNC authentication with this password (default: security type None) */
  password?: string;
}

export interface RfbFrame {
  width: number;
  height: number;
  name: string;
  bitsPerPixel: number;
  /** Raw pixels of the requested rectangle, in the server's pixel format. */
  pixels: Buffer;
}

/** Reads exactly `n` bytes, in order, from a socket. */
export class SocketReader {
  #buffer = Buffer.alloc(0);
  #waiters: (() => void)[] = [];
  #ended = false;

  constructor(socket: Socket) {
    socket.on("data", (d: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, d]);
      for (const w of this.#waiters.splice(0)) w();
    });
    socket.on("close", () => {
      this.#ended = true;
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  async read(n: number): Promise<Buffer> {
    while (this.#buffer.length < n) {
      if (this.#ended) throw new Error(`socket closed with ${this.#buffer.length}/${n} bytes`);
      await new Promise<void>((r) => this.#waiters.push(r));
    }
    const out = this.#buffer.subarray(0, n);
    this.#buffer = this.#buffer.subarray(n);
    return out;
  }
}

/** The security types a 3.8 client is offered (then hangs up). */
export async function rfbSecurityTypes(host: string, port: number): Promise<number[]> {
  const socket = connect(port, host);
  socket.on("error", () => {});
  const reader = new SocketReader(socket);
  try {
    await reader.read(12);
    socket.write("RFB 003.008\n");
    const count = (await reader.read(1)).readUInt8(0);
    return [...(await reader.read(count))];
  } finally {
    socket.destroy();
  }
}

/** The security handshake of `options`; throws with the server's reason when it fails. */
async function handshake(socket: Socket, reader: SocketReader, options: RfbClientOptions): Promise<void> {
  const version = (await reader.read(12)).toString();
  if (!/^RFB 003\.00\d\n$/.test(version)) throw new Error(`not an RFB server: ${JSON.stringify(version)}`);
  const wanted = options.password === undefined ? 1 : 2;
  if (options.version === "3.3") {
    socket.write("RFB 003.003\n");
    const type = (await reader.read(4)).readUInt32BE(0);
    if (type !== wanted) throw new Error(`server chose security type ${type}`);
  } else {
    socket.write("RFB 003.008\n");
    const count = (await reader.read(1)).readUInt8(0);
    const types = [...(await reader.read(count))];
    if (!types.includes(wanted)) throw new Error(`server offers no security type ${wanted}: ${types}`);
    socket.write(Buffer.from([wanted]));
  }
  if (options.password !== undefined) socket.write(vncAuthResponse(options.password, await reader.read(16)));
  // 3.3 sends no SecurityResult for None.
  if (options.version === "3.3" && options.password === undefined) return;
  const result = (await reader.read(4)).readUInt32BE(0);
  if (result === 0) return;
  const reason = options.version === "3.3" ? "" : (await reader.read((await reader.read(4)).readUInt32BE(0))).toString();
  throw new Error(`security handshake failed: ${reason}`);
}

/** Connects, handshakes and fetches the top-left `size`×`size` pixels. */
export async function grabRfbFrame(host: string, port: number, size = 8, options: RfbClientOptions = {}): Promise<RfbFrame> {
  const socket = connect(port, host);
  socket.on("error", () => {});
  const reader = new SocketReader(socket);
  try {
    await handshake(socket, reader, options);
    socket.write(Buffer.from([1])); // ClientInit: shared
    const init = await reader.read(24);
    const width = init.readUInt16BE(0);
    const height = init.readUInt16BE(2);
    const bitsPerPixel = init.readUInt8(4);
    const name = (await reader.read(init.readUInt32BE(20))).toString();
    // SetEncodings: Raw only.
    socket.write(Buffer.from([2, 0, 0, 1, 0, 0, 0, 0]));
    // FramebufferUpdateRequest, non-incremental.
    const req = Buffer.alloc(10);
    req.writeUInt8(3, 0);
    req.writeUInt8(0, 1);
    req.writeUInt16BE(size, 6);
    req.writeUInt16BE(size, 8);
    socket.write(req);
    const pixels: Buffer[] = [];
    for (;;) {
      const type = (await reader.read(1)).readUInt8(0);
      if (type === 0) break; // FramebufferUpdate
      if (type === 2) continue; // Bell
      throw new Error(`unexpected server message ${type}`);
    }
    const rects = (await reader.read(3)).readUInt16BE(1);
    for (let i = 0; i < rects; i++) {
      const header = await reader.read(12);
      const x = header.readUInt16BE(0);
      const y = header.readUInt16BE(2);
      const w = header.readUInt16BE(4);
      const h = header.readUInt16BE(6);
      const encoding = header.readInt32BE(8);
      if (encoding !== 0) throw new Error(`unexpected encoding ${encoding}`);
      const data = await reader.read((w * h * bitsPerPixel) / 8);
      // x11vnc may add rectangles beyond the one asked for (around the cursor): not ours to judge.
      if (x + w <= size && y + h <= size) pixels.push(data);
    }
    return { width, height, name, bitsPerPixel, pixels: Buffer.concat(pixels) };
  } finally {
    socket.destroy();
  }
}
