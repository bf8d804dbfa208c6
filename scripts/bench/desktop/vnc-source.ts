/**
 * The VNC side of the desktop section, in its own process (forked with IPC) so its CPU is not
 * charged to anything measured: a stream server that plays a VNC server pushing framebuffer
 * updates (every connection gets the verifiable stream of pattern.ts, as fast as the reader
 * takes it, up to the size the parent set last, then stays open) and an echo server for the
 * round-trip figures. Both TCP_NODELAY, on 127.0.0.1.
 *
 * IPC in: {type:"stream-bytes", bytes} (-1 = endless), {type:"stats"}; both answered with
 * {type:"stats", written, open} (so the parent knows a new size applies before it connects).
 * IPC out, first: {type:"ready", streamPort, echoPort}.
 */
import { createServer, type Server, type Socket } from "node:net";
import { streamSlice } from "./pattern.ts";

export type SourceCommand = { type: "stream-bytes"; bytes: number } | { type: "stats" };
export type SourceReport = { type: "ready"; streamPort: number; echoPort: number } | { type: "stats"; written: number; open: number };

const WRITE_BYTES = 256 * 1024;

let streamBytes = 0;
let written = 0;
const open = new Set<Socket>();

function stream(socket: Socket, total: number): void {
  let offset = 0;
  const pump = () => {
    while (!socket.destroyed && (total < 0 || offset < total)) {
      const chunk = streamSlice(offset, total < 0 ? WRITE_BYTES : Math.min(WRITE_BYTES, total - offset));
      offset += chunk.length;
      written += chunk.length;
      if (!socket.write(chunk)) {
        socket.once("drain", pump);
        return;
      }
    }
  };
  pump();
}

function track(socket: Socket): void {
  socket.setNoDelay(true);
  open.add(socket);
  socket.on("close", () => open.delete(socket));
  socket.on("error", () => socket.destroy());
}

const streamServer = createServer((socket) => {
  track(socket);
  socket.on("data", () => {}); // a viewer's handshake bytes: read and ignored
  stream(socket, streamBytes);
});

const echoServer = createServer((socket) => {
  track(socket);
  socket.on("data", (d) => socket.write(d));
});

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const addr = server.address();
      if (typeof addr === "object" && addr) resolve(addr.port);
      else reject(new Error("no port"));
    });
  });
}

const send = (r: SourceReport) => process.send?.(r);

process.on("message", (raw: unknown) => {
  const cmd = raw as SourceCommand;
  if (cmd.type === "stream-bytes") streamBytes = cmd.bytes;
  send({ type: "stats", written, open: open.size });
});
process.on("disconnect", () => process.exit(0));

const [streamPort, echoPort] = await Promise.all([listen(streamServer), listen(echoServer)]);
send({ type: "ready", streamPort, echoPort });
