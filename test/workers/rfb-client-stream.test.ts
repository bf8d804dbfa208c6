/**
 * The RFB client-stream filter: for any valid client stream cut into any chunks, a view-only
 * viewer's forwarded bytes are exactly the stream without its input messages (ClientInit forced
 * to shared), and a controlling viewer's bytes pass unchanged. State survives a JSON round trip
 * between chunks (the DO keeps it in a socket attachment across hibernation).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type RfbClientState, RfbClientStream } from "../../durable-objects/desktop/rfb-client-stream.ts";

interface Piece {
  bytes: number[];
  /** dropped for a view-only viewer */
  control: boolean;
  /** counts as the controller's input */
  input: boolean;
}

const u16 = (n: number) => [(n >> 8) & 255, n & 255];
const s32 = (n: number) => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
const bytes = (n: number) => fc.array(fc.integer({ min: 0, max: 255 }), { minLength: n, maxLength: n });
const msg = (arb: fc.Arbitrary<number[]>, control = false, input = false) => arb.map((b): Piece => ({ bytes: b, control, input }));

const message: fc.Arbitrary<Piece> = fc.oneof(
  msg(bytes(19).map((b) => [0, ...b])),
  msg(
    fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { maxLength: 12 }).map((e) => [2, 0, ...u16(e.length), ...e.flatMap(s32)]),
  ),
  msg(bytes(9).map((b) => [3, ...b])),
  msg(
    bytes(7).map((b) => [4, ...b]),
    true,
    true,
  ),
  msg(
    bytes(5).map((b) => [5, ...b]),
    true,
    true,
  ),
  msg(
    fc
      .tuple(fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 300 }), fc.boolean())
      .map(([t, extended]) => [6, 0, 0, 0, ...s32(extended ? -t.length : t.length), ...t]),
    true,
  ),
  msg(bytes(9).map((b) => [150, ...b])),
  msg(fc.tuple(bytes(7), fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 64 })).map(([h, p]) => [248, ...h, p.length, ...p])),
  msg(
    bytes(3).map((b) => [250, ...b]),
    true,
  ),
  msg(
    fc.tuple(bytes(4), fc.array(bytes(16), { maxLength: 4 })).map(([wh, screens]) => [251, 0, ...wh, screens.length, 0, ...screens.flat()]),
    true,
  ),
  msg(
    fc
      .tuple(fc.boolean(), fc.integer({ min: 0, max: 127 }), fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 80 }))
      .map(([be, sub, p]) => [253, be ? 0x80 | sub : sub, ...(be ? u16(p.length) : u16(p.length).reverse()), ...p]),
    true,
  ),
  msg(
    bytes(10).map((b) => [255, 0, ...b]),
    true,
    true,
  ),
  msg(fc.constantFrom([255, 1, 0, 0], [255, 1, 0, 1])),
  msg(bytes(6).map((b) => [255, 1, 0, 2, ...b])),
);

const ascii = (text: string) => [...text].map((c) => c.charCodeAt(0));

/** A client handshake up to ClientInit, and what the server sent before it (3.3: its version and the security type). */
const handshake = fc.oneof(
  fc.integer({ min: 0, max: 1 }).map((shared) => ({ prefix: ascii("RFB 003.008\n").concat([1]), shared, server: [] as number[] })),
  fc
    .tuple(bytes(16), fc.integer({ min: 0, max: 1 }))
    .map(([response, shared]) => ({ prefix: ascii("RFB 003.007\n").concat([2], response), shared, server: [] as number[] })),
  // RFB 3.3: the client sends no security byte; the server dictated None …
  fc
    .tuple(fc.integer({ min: 0, max: 1 }), fc.constantFrom("RFB 003.003\n", "RFB 003.008\n"))
    .map(([shared, serverVersion]) => ({ prefix: ascii("RFB 003.003\n"), shared, server: ascii(serverVersion).concat([0, 0, 0, 1]) })),
  // … or VNC authentication, answered with 16 bytes that may look like anything (input messages too).
  fc.tuple(bytes(16), fc.integer({ min: 0, max: 1 })).map(([response, shared]) => ({
    prefix: ascii("RFB 003.003\n").concat(response),
    shared,
    server: ascii("RFB 003.008\n").concat([0, 0, 0, 2]),
  })),
);

const stream = fc
  .tuple(handshake, fc.array(message, { maxLength: 40 }))
  .map(([hs, messages]) => ({ hs, messages, all: [...hs.prefix, hs.shared, ...messages.flatMap((m) => m.bytes)] }));

/** Splits `data` at arbitrary points, including into single bytes. */
function withCuts<T extends { all: number[] }>(arb: fc.Arbitrary<T>) {
  return arb.chain((s) =>
    fc.tuple(
      fc.constant(s),
      fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, s.all.length - 1) }), { maxLength: Math.min(60, s.all.length) }),
      fc.array(fc.boolean(), { minLength: 70, maxLength: 70 }),
    ),
  );
}

function chunks(all: number[], cuts: number[]): Uint8Array[] {
  const points = [0, ...[...cuts].sort((a, b) => a - b).filter((c) => c > 0 && c < all.length), all.length];
  const out: Uint8Array[] = [];
  for (let i = 0; i + 1 < points.length; i++) out.push(Uint8Array.from(all.slice(points[i], points[i + 1])));
  return out.filter((c) => c.length > 0);
}

function run(all: number[], cuts: number[], filtered: boolean, restoreAt: boolean[] = [], server: number[] = []) {
  let parser = new RfbClientStream();
  // The server speaks first (its version, and in 3.3 the security type once it has the client's).
  if (server.length > 0) parser.pushServer(Uint8Array.from(server));
  const forwarded: number[] = [];
  let inputs = 0;
  let dropped = 0;
  const perChunk: { chunk: Uint8Array; forward: Uint8Array }[] = [];
  chunks(all, cuts).forEach((chunk, i) => {
    if (restoreAt[i]) parser = new RfbClientStream(JSON.parse(JSON.stringify(parser.snapshot())) as RfbClientState);
    const r = parser.push(chunk, filtered);
    expect(r.error).toBeUndefined();
    forwarded.push(...r.forward);
    inputs += r.inputs;
    dropped += r.dropped;
    perChunk.push({ chunk, forward: r.forward });
  });
  return { forwarded, inputs, dropped, perChunk };
}

describe("RFB client-stream filter", () => {
  it("view-only: for any chunking, forwards the stream minus the input messages, with ClientInit forced to shared", () => {
    fc.assert(
      fc.property(withCuts(stream), ([s, cuts, restore]) => {
        const expected = [...s.hs.prefix, 1, ...s.messages.filter((m) => !m.control).flatMap((m) => m.bytes)];
        const r = run(s.all, cuts, true, restore, s.hs.server);
        expect(r.forwarded).toEqual(expected);
        expect(r.dropped).toBe(s.messages.filter((m) => m.control).length);
        expect(r.inputs).toBe(0);
      }),
      { numRuns: 400 },
    );
  });

  it("controller: for any chunking, every chunk passes unchanged, and key / pointer events count as input", () => {
    fc.assert(
      fc.property(withCuts(stream), ([s, cuts, restore]) => {
        const r = run(s.all, cuts, false, restore, s.hs.server);
        expect(r.forwarded).toEqual(s.all);
        for (const { chunk, forward } of r.perChunk) expect(forward).toEqual(chunk);
        expect(r.dropped).toBe(0);
        expect(r.inputs).toBe(s.messages.filter((m) => m.input).length);
      }),
      { numRuns: 400 },
    );
  });

  it("a controller's chunk is forwarded as the same buffer, without copying", () => {
    const parser = new RfbClientStream();
    const chunk = Uint8Array.from([..."RFB 003.008\n"].map((c) => c.charCodeAt(0)).concat([1, 1, 3, 1, 0, 0, 0, 0, 4, 0, 3, 0]));
    expect(parser.push(chunk, false).forward).toBe(chunk);
  });

  it("a KeyEvent split across chunks from a view-only viewer is dropped whole", () => {
    const parser = new RfbClientStream();
    parser.push(Uint8Array.from([..."RFB 003.008\n"].map((c) => c.charCodeAt(0)).concat([1, 1])), true);
    const a = parser.push(Uint8Array.of(3, 1, 0, 0, 0, 0, 4, 0, 3, 0, 4, 1, 0), true);
    const b = parser.push(Uint8Array.of(0, 0, 0, 0, 0x41, 5, 0), true);
    const c = parser.push(Uint8Array.of(0, 1, 0, 2, 3, 1, 0, 0, 0, 0, 4, 0, 3, 0), true);
    expect([...a.forward]).toEqual([3, 1, 0, 0, 0, 0, 4, 0, 3, 0]);
    expect([...b.forward]).toEqual([]);
    expect([...c.forward]).toEqual([3, 1, 0, 0, 0, 0, 4, 0, 3, 0]);
    expect(a.dropped + b.dropped + c.dropped).toBe(2);
  });

  it("a message's fate is fixed when it starts, so losing control mid-message never cuts one in half", () => {
    const parser = new RfbClientStream();
    parser.push(Uint8Array.from([..."RFB 003.008\n"].map((c) => c.charCodeAt(0)).concat([1, 1])), false);
    const first = parser.push(Uint8Array.of(6, 0, 0, 0, 0), false);
    const rest = parser.push(Uint8Array.of(0, 0, 4, 0x61, 0x62, 0x63, 0x64, 4, 1, 0, 0, 0, 0, 0, 0x41), true);
    expect([...first.forward, ...rest.forward]).toEqual([6, 0, 0, 0, 0, 0, 0, 4, 0x61, 0x62, 0x63, 0x64]);
    // …and a filtered viewer's message that started while it was filtered stays dropped.
    const held = parser.push(Uint8Array.of(5, 1), true);
    const after = parser.push(Uint8Array.of(0, 1, 0, 1), false);
    expect([...held.forward, ...after.forward]).toEqual([]);
  });

  it("refuses to filter what it cannot parse, but lets a controller through", () => {
    const v33 = Uint8Array.from([..."RFB 003.003\n"].map((c) => c.charCodeAt(0)).concat([1, 4, 1]));
    expect(new RfbClientStream().push(v33, true).error).toMatch(/cannot be filtered/);
    expect([...new RfbClientStream().push(v33, false).forward]).toEqual([...v33]);

    const unknown = Uint8Array.from([..."RFB 003.008\n"].map((c) => c.charCodeAt(0)).concat([1, 1, 99, 1, 2, 3]));
    expect(new RfbClientStream().push(unknown, true).error).toMatch(/Unknown RFB message type 99/);
    const passed = new RfbClientStream().push(unknown, false);
    expect(passed.error).toBeUndefined();
    expect(passed.forward).toEqual(unknown);

    const tight = Uint8Array.from([..."RFB 003.008\n"].map((c) => c.charCodeAt(0)).concat([16, 0, 0, 0, 1]));
    expect(new RfbClientStream().push(tight, true).error).toBeDefined();
  });

  it("RFB 3.3 (vncsnapshot): the security type comes from the server, and a view-only viewer's input is still dropped", () => {
    const parser = new RfbClientStream();
    expect(parser.pushServer(Uint8Array.from(ascii("RFB 003.008\n")))).toBe(true);
    const version = parser.push(Uint8Array.from(ascii("RFB 003.003\n")), true);
    expect(version.error).toBeUndefined();
    // The state survives hibernation between the server's security type and the client's reply.
    const restored = new RfbClientStream(JSON.parse(JSON.stringify(parser.snapshot())) as RfbClientState);
    // The type may arrive in pieces.
    restored.pushServer(Uint8Array.of(0, 0));
    restored.pushServer(Uint8Array.of(0, 1, 1, 0, 0, 0));
    // ClientInit asking for exclusive access (0) is forced to shared; KeyEvent and PointerEvent are dropped.
    const rest = restored.push(Uint8Array.of(0, 4, 1, 0, 0, 0, 0, 0, 0x41, 3, 0, 0, 0, 0, 0, 0, 10, 0, 10, 5, 1, 0, 1, 0, 1), true);
    expect(rest.error).toBeUndefined();
    expect([...rest.forward]).toEqual([1, 3, 0, 0, 0, 0, 0, 0, 10, 0, 10]);
    expect(rest.dropped).toBe(2);
    // Later server bytes (the framebuffer) cost nothing.
    expect(restored.pushServer(new Uint8Array(1000))).toBe(false);
  });

  it("RFB 3.3 with VNC authentication: the 16-byte response passes whole, even when it looks like input", () => {
    const parser = new RfbClientStream();
    parser.pushServer(Uint8Array.from(ascii("RFB 003.003\n")));
    parser.push(Uint8Array.from(ascii("RFB 003.003\n")), true);
    parser.pushServer(Uint8Array.of(0, 0, 0, 2, ...new Array(16).fill(7)));
    const response = new Array(16).fill(4);
    const r = parser.push(Uint8Array.of(...response, 1, 4, 1, 0, 0, 0, 0, 0, 0x41), true);
    expect(r.error).toBeUndefined();
    expect([...r.forward]).toEqual([...response, 1]);
    expect(r.dropped).toBe(1);
  });

  it("RFB 3.3: a client that speaks before the server named the security type, or a refused connection, cannot be filtered", () => {
    const early = new RfbClientStream();
    early.pushServer(Uint8Array.from(ascii("RFB 003.008\n")));
    expect(early.push(Uint8Array.from(ascii("RFB 003.003\n").concat([1])), true).error).toMatch(/cannot be filtered/);

    const refused = new RfbClientStream();
    refused.pushServer(Uint8Array.from(ascii("RFB 003.008\n")));
    refused.push(Uint8Array.from(ascii("RFB 003.003\n")), true);
    refused.pushServer(Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 3, 0x62, 0x61, 0x64));
    expect(refused.push(Uint8Array.of(1), true).error).toMatch(/cannot be filtered/);

    // A client claiming 3.8 to a 3.3 server would send bytes the server reads differently.
    const liar = new RfbClientStream();
    liar.pushServer(Uint8Array.from(ascii("RFB 003.003\n")));
    expect(liar.push(Uint8Array.from(ascii("RFB 003.008\n").concat([1, 1])), true).error).toMatch(/cannot be filtered/);
  });

  it("reads a state persisted before 3.3 support (no server bytes recorded)", () => {
    const old = { phase: "messages", header: [], remaining: 0, forward: true } as RfbClientState;
    const parser = new RfbClientStream(old);
    expect([...parser.push(Uint8Array.of(4, 1, 0, 0, 0, 0, 0, 0x41, 3, 0, 0, 0, 0, 0, 0, 1, 0, 1), true).forward]).toEqual([
      3, 0, 0, 0, 0, 0, 0, 1, 0, 1,
    ]);
    expect(parser.pushServer(Uint8Array.of(0))).toBe(false);
  });

  it("checkpoints only when there is state worth keeping", () => {
    const parser = new RfbClientStream();
    parser.push(Uint8Array.from([..."RFB 003.008\n"].map((c) => c.charCodeAt(0)).concat([1, 1])), false);
    expect(parser.checkpointKey()).toBe("messages");
    parser.push(Uint8Array.of(3, 1, 0, 0, 0, 0, 4, 0, 3, 0), false);
    expect(parser.checkpointKey()).toBe("messages");
    parser.push(Uint8Array.of(6, 0, 0), false);
    expect(parser.checkpointKey()).not.toBe("messages");
  });
});
