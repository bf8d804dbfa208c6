/**
 * The bridge's RFB handshake machines (node-bridge/rfb-handshake.ts), pure: VNC's DES against
 * x11vnc's own output, the login towards 3.3 / 3.7 / 3.8 servers fed one byte at a time, and
 * the None handshake towards 3.3 / 3.7 / 3.8 viewers, with the failure modes.
 */
import { describe, expect, it } from "vitest";
import {
  type HandshakeStep,
  VncServerLogin,
  ViewerNoneHandshake,
  vncAuthResponse,
  vncDesEncrypt,
} from "../../../node-bridge/rfb-handshake.ts";

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n, 0);
  return b;
};
const CHALLENGE = Buffer.from("00112233445566778899aabbccddeeff", "hex");

/** Feeds `bytes` one at a time; returns everything sent and the final step. */
function feed(machine: { push(b: Uint8Array): HandshakeStep }, bytes: Buffer): { sent: Buffer; last: HandshakeStep } {
  const sent: Buffer[] = [];
  let last: HandshakeStep = { send: Buffer.alloc(0) };
  for (const byte of bytes) {
    last = machine.push(Buffer.of(byte));
    sent.push(last.send);
    if (last.done || last.error) break;
  }
  return { sent: Buffer.concat(sent), last };
}

describe("VNC DES", () => {
  it("matches x11vnc -storepasswd (its fixed key encrypting the password, VNC's mirrored key bits)", () => {
    const fixedKey = Buffer.of(23, 82, 107, 6, 35, 78, 88, 7);
    const pad = (s: string) => Buffer.concat([Buffer.from(s), Buffer.alloc(8)]).subarray(0, 8);
    // `x11vnc -storepasswd password FILE` and `… abc FILE` wrote these bytes.
    expect(vncDesEncrypt(fixedKey, pad("password")).toString("hex")).toBe("dbd83cfd727a1458");
    expect(vncDesEncrypt(fixedKey, pad("abc")).toString("hex")).toBe("9c0a172d3482e122");
  });

  it("answers a challenge with both halves encrypted under the first 8 password bytes", () => {
    const response = vncAuthResponse("secret12-ignored", CHALLENGE);
    expect(response).toHaveLength(16);
    expect(response).toEqual(vncAuthResponse("secret12", CHALLENGE));
    expect(response.subarray(0, 8)).toEqual(vncDesEncrypt(Buffer.from("secret12"), CHALLENGE.subarray(0, 8)));
    expect(response).not.toEqual(vncAuthResponse("secret13", CHALLENGE));
    expect(() => vncAuthResponse("x", CHALLENGE.subarray(0, 8))).toThrow(/16 bytes/);
  });
});

describe("VncServerLogin (the bridge as client of a VNC server with a password)", () => {
  it("3.8: answers the version, picks VNC authentication, answers the challenge; bytes after SecurityResult are the stream's", () => {
    const login = new VncServerLogin("pass1234");
    const server = Buffer.concat([Buffer.from("RFB 003.008\n"), Buffer.of(2, 1, 2), CHALLENGE, u32(0)]);
    const { sent, last } = feed(login, server);
    expect(sent).toEqual(Buffer.concat([Buffer.from("RFB 003.008\n"), Buffer.of(2), vncAuthResponse("pass1234", CHALLENGE)]));
    expect(last.done).toEqual({ rest: Buffer.alloc(0) });
    expect(login.done).toBe(true);

    const whole = new VncServerLogin("pass1234").push(Buffer.concat([server, Buffer.from("extra")]));
    expect(whole.done?.rest.toString()).toBe("extra");
  });

  it("3.7 and 3.3 servers (and newer minors read as 3.8) are answered in their own version", () => {
    const seven = feed(new VncServerLogin("pw"), Buffer.concat([Buffer.from("RFB 003.007\n"), Buffer.of(1, 2), CHALLENGE, u32(0)]));
    expect(seven.sent.subarray(0, 13)).toEqual(Buffer.concat([Buffer.from("RFB 003.007\n"), Buffer.of(2)]));
    expect(seven.last.done).toBeDefined();
    const three = feed(new VncServerLogin("pw"), Buffer.concat([Buffer.from("RFB 003.003\n"), u32(2), CHALLENGE, u32(0)]));
    expect(three.sent).toEqual(Buffer.concat([Buffer.from("RFB 003.003\n"), vncAuthResponse("pw", CHALLENGE)]));
    expect(three.last.done).toBeDefined();
    const later = new VncServerLogin("pw").push(Buffer.from("RFB 003.889\n"));
    expect(later.send.toString()).toBe("RFB 003.008\n");
  });

  it("fails with the server's reason on a wrong password (3.8) and plainly on 3.3", () => {
    const reason = Buffer.from("Authentication failed");
    const wrong = feed(
      new VncServerLogin("nope"),
      Buffer.concat([Buffer.from("RFB 003.008\n"), Buffer.of(1, 2), CHALLENGE, u32(1), u32(reason.length), reason]),
    );
    expect(wrong.last.error).toBe("the VNC server refused the password: Authentication failed");
    const wrong33 = feed(new VncServerLogin("nope"), Buffer.concat([Buffer.from("RFB 003.003\n"), u32(2), CHALLENGE, u32(1)]));
    expect(wrong33.last.error).toBe("the VNC server refused the password");
  });

  it("refuses a server that does not offer VNC authentication (no silent downgrade), a refusal and a non-RFB greeting", () => {
    expect(new VncServerLogin("pw").push(Buffer.concat([Buffer.from("RFB 003.008\n"), Buffer.of(1, 1)])).error).toMatch(
      /does not offer VNC authentication \(offers 1\)/,
    );
    expect(new VncServerLogin("pw").push(Buffer.concat([Buffer.from("RFB 003.003\n"), u32(1)])).error).toMatch(/chose security type 1/);
    const busy = Buffer.from("too many connections");
    expect(new VncServerLogin("pw").push(Buffer.concat([Buffer.from("RFB 003.008\n"), Buffer.of(0), u32(busy.length), busy])).error).toBe(
      "the VNC server refused the connection: too many connections",
    );
    expect(new VncServerLogin("pw").push(Buffer.from("HTTP/1.1 400")).error).toMatch(/RFB 3.x/);
  });
});

describe("ViewerNoneHandshake (the bridge as server of a viewer)", () => {
  it("greets with 3.8; a 3.8 viewer is offered [None] and gets SecurityResult OK; its ClientInit is the stream's", () => {
    const hs = new ViewerNoneHandshake();
    expect(hs.greeting().toString()).toBe("RFB 003.008\n");
    const { sent, last } = feed(hs, Buffer.concat([Buffer.from("RFB 003.008\n"), Buffer.of(1)]));
    expect(sent).toEqual(Buffer.concat([Buffer.of(1, 1), u32(0)]));
    expect(last.done).toEqual({ rest: Buffer.alloc(0) });
    expect(hs.viewerVersion).toBe("3.8");
    const whole = new ViewerNoneHandshake().push(Buffer.concat([Buffer.from("RFB 003.008\n"), Buffer.of(1), Buffer.of(1)]));
    expect(whole.done?.rest).toEqual(Buffer.of(1));
  });

  it("a 3.3 viewer is told None (a u32) and goes straight to ClientInit; a 3.7 viewer gets no SecurityResult", () => {
    const three = new ViewerNoneHandshake().push(Buffer.concat([Buffer.from("RFB 003.003\n"), Buffer.of(0)]));
    expect(three.send).toEqual(u32(1));
    expect(three.done?.rest).toEqual(Buffer.of(0));
    const seven = feed(new ViewerNoneHandshake(), Buffer.concat([Buffer.from("RFB 003.007\n"), Buffer.of(1)]));
    expect(seven.sent).toEqual(Buffer.of(1, 1));
    expect(seven.last.done).toBeDefined();
    // Unknown minors are 3.3 (RFC 6143 §7.1.1).
    expect(new ViewerNoneHandshake().push(Buffer.from("RFB 003.005\n")).send).toEqual(u32(1));
  });

  it("fails a viewer that picks another security type (a 3.8 one is told why) or does not speak RFB", () => {
    const picked = new ViewerNoneHandshake().push(Buffer.concat([Buffer.from("RFB 003.008\n"), Buffer.of(2)]));
    expect(picked.error).toMatch(/security type 2/);
    expect(picked.send.subarray(2, 6)).toEqual(u32(1));
    expect(picked.send.subarray(10).toString()).toBe("only security type None is offered");
    expect(new ViewerNoneHandshake().push(Buffer.from("GET / HTTP/1.1\r\n")).error).toMatch(/RFB 3.x/);
  });
});
