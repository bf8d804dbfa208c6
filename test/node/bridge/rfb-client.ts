/**
 * A minimal RFB (VNC) client for tests: protocol version 3.8, security type None, ClientInit,
 * ServerInit, and one raw-encoded framebuffer update of a small rectangle — enough to prove that
 * a desktop really serves pixels and what colour they are.
 */
import { connect, type Socket } from "node:net";

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

/** Connects, handshakes and fetches the top-left `size`×`size` pixels. */
export async function grabRfbFrame(host: string, port: number, size = 8): Promise<RfbFrame> {
  const socket = connect(port, host);
  socket.on("error", () => {});
  const reader = new SocketReader(socket);
  try {
    const version = (await reader.read(12)).toString();
    if (!/^RFB 003\.00\d\n$/.test(version)) throw new Error(`not an RFB server: ${JSON.stringify(version)}`);
    socket.write("RFB 003.008\n");
    const count = (await reader.read(1)).readUInt8(0);
    const types = [...(await reader.read(count))];
    if (!types.includes(1)) throw new Error(`server offers no "None" security: ${types}`);
    socket.write(Buffer.from([1]));
    const result = (await reader.read(4)).readUInt32BE(0);
    if (result !== 0) throw new Error("security handshake failed");
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
      const w = header.readUInt16BE(4);
      const h = header.readUInt16BE(6);
      const encoding = header.readInt32BE(8);
      if (encoding !== 0) throw new Error(`unexpected encoding ${encoding}`);
      pixels.push(await reader.read((w * h * bitsPerPixel) / 8));
    }
    return { width, height, name, bitsPerPixel, pixels: Buffer.concat(pixels) };
  } finally {
    socket.destroy();
  }
}
