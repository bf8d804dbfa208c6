/**
 * Standard WebSocket clients against `npm start`'s stack: the `ws` package and Node's own global
 * WebSocket (undici). Both abort a handshake whose answer selects none of the subprotocols they
 * offered, so these prove the server selects one: `atrium.v1` for the recommended pair
 * `atrium.v1, atrium.bearer.<token>`, the bearer protocol itself when only it is offered.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WsWebSocket from "ws";
import { type ApiClient, registerUser } from "../helpers/api-client.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

let stack: Stack;
let owner: ApiClient;
let teamId: string;
let meetingId: string;

type Frame = Record<string, unknown>;

/** What both client kinds have in common, to run the same checks on each. */
interface OpenedSocket {
  protocol: string;
  next(predicate: (f: Frame) => boolean, timeoutMs?: number): Promise<Frame>;
  send(frame: Frame): void;
  close(): void;
}

function collector() {
  const frames: Frame[] = [];
  const waiters: { predicate: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];
  let consumed = 0;
  return {
    push(text: string) {
      const frame = JSON.parse(text) as Frame;
      frames.push(frame);
      for (const w of [...waiters]) {
        if (w.predicate(frame)) {
          waiters.splice(waiters.indexOf(w), 1);
          consumed = frames.indexOf(frame) + 1;
          w.resolve(frame);
        }
      }
    },
    next(predicate: (f: Frame) => boolean, timeoutMs = 15_000): Promise<Frame> {
      const found = frames.slice(consumed).find(predicate);
      if (found) {
        consumed = frames.indexOf(found) + 1;
        return Promise.resolve(found);
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching frame; got ${JSON.stringify(frames)}`)), timeoutMs);
        waiters.push({
          predicate,
          resolve: (f) => {
            clearTimeout(timer);
            resolve(f);
          },
        });
      });
    },
  };
}

function wsUrl(path: string): string {
  return `${stack.url.replace(/^http/, "ws")}${path}`;
}

/** The `ws` package (what Node services and the benchmarks use). */
async function openWithWsPackage(path: string, protocols: string[]): Promise<OpenedSocket> {
  const ws = new WsWebSocket(wsUrl(path), protocols);
  const frames = collector();
  ws.on("message", (data) => frames.push(String(data)));
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  return { protocol: ws.protocol, next: frames.next, send: (f) => ws.send(JSON.stringify(f)), close: () => ws.close(1000) };
}

/** Node's global WebSocket (the WHATWG client, as in browsers). */
async function openWithNodeGlobal(path: string, protocols: string[]): Promise<OpenedSocket> {
  const ws = new globalThis.WebSocket(wsUrl(path), protocols);
  const frames = collector();
  ws.addEventListener("message", (e) => frames.push(String(e.data)));
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener("open", () => resolve(), { once: true });
    ws.addEventListener("error", () => reject(new Error("the handshake failed")), { once: true });
  });
  return { protocol: ws.protocol, next: frames.next, send: (f) => ws.send(JSON.stringify(f)), close: () => ws.close(1000) };
}

const clients = [
  { name: "the ws package", open: openWithWsPackage },
  { name: "Node's global WebSocket", open: openWithNodeGlobal },
] as const;

describe("standard WebSocket clients with the bearer subprotocol", () => {
  beforeAll(async () => {
    stack = await startStack({ localBridge: false });
    owner = await registerUser(stack.url, `sock${Date.now().toString(36)}`);
    teamId = ((await owner.ok("POST", "/api/v1/teams", { name: "Socket lab" })) as { team: { id: string } }).team.id;
    const { agent } = (await owner.ok("POST", `/api/v1/teams/${teamId}/agents`, {
      title: "Chemist",
      expertise: "synthesis",
      goal: "find routes",
      role: "propose",
      model: "claude-sonnet-4-6",
    })) as { agent: { id: string } };
    const { meeting } = (await owner.ok("POST", `/api/v1/teams/${teamId}/meetings`, {
      type: "individual",
      agenda: "Say hello",
      rounds: 1,
      memberAgentId: agent.id,
    })) as { meeting: { id: string } };
    meetingId = meeting.id;
  });

  afterAll(async () => {
    await stack?.stop();
  });

  for (const client of clients) {
    it(`${client.name}: atrium.v1 + bearer selects atrium.v1 (the token is not echoed) and presence arrives`, async () => {
      const s = await client.open(`/api/v1/teams/${teamId}/ws`, ["atrium.v1", `atrium.bearer.${owner.token}`]);
      expect(s.protocol).toBe("atrium.v1");
      expect(await s.next((f) => f.type === "presence")).toMatchObject({ users: 1 });
      s.close();
    });

    it(`${client.name}: the bearer protocol alone is echoed back and presence arrives`, async () => {
      const s = await client.open(`/api/v1/teams/${teamId}/ws`, [`atrium.bearer.${owner.token}`]);
      expect(s.protocol).toBe(`atrium.bearer.${owner.token}`);
      expect(await s.next((f) => f.type === "presence")).toMatchObject({ users: 1 });
      s.close();
    });
  }

  it("a meeting socket of each client sees the meeting start and the agent speak", async () => {
    const a = await openWithWsPackage(`/api/v1/meetings/${meetingId}/ws`, [`atrium.bearer.${owner.token}`]);
    const b = await openWithNodeGlobal(`/api/v1/meetings/${meetingId}/ws`, ["atrium.v1", `atrium.bearer.${owner.token}`]);
    a.send({ type: "start" });
    for (const s of [a, b]) {
      expect(await s.next((f) => f.type === "meeting_state" && f.status === "running")).toMatchObject({ seq: expect.any(Number) });
      expect(await s.next((f) => f.type === "agent_speaking", 30_000)).toMatchObject({ speaker: "Chemist" });
    }
    a.close();
    b.close();
  });
});
