/**
 * MeetingRoom: one Durable Object per meeting. Runs the turn plan one turn per alarm (so a
 * restart continues from the last finished turn), streams each turn's tokens to every viewer
 * coalesced, writes each finished turn to its storage and to Postgres before announcing it, and
 * takes start / pause / resume / cancel / interject from editors and owners.
 */
import type { Pool } from "@neondatabase/serverless";
import { createPool, pgErrorCode, type TxDb } from "../../worker/db/client.ts";
import { userApiKeys } from "../../migrations/schema.ts";
import { and, eq } from "drizzle-orm";
import { openSecret, parseMasterKeys } from "../../worker/lib/secret-box.ts";
import { toWellFormedText } from "../../worker/lib/well-formed-text.ts";
import { hitWindow } from "../rate-limiter/sliding-window.ts";
import type { RoomIdentity } from "../room/protocol.ts";
import { RoomBase } from "../room/room-base.ts";
import { type MeetingConfig, MeetingConfigSchema } from "./meeting-config.ts";
import { ApiError } from "../../worker/lib/errors.ts";
import { admitOnDeploymentKey, dailySpendRefusal } from "./meeting-limits.ts";
import { type AnyDb, commitMessage, groupMembers, type LedgerEntry, type StatusUpdate, updateMeetingStatus } from "./meeting-records.ts";
import { backoffMs, callModel, ModelCallError, type ModelSource } from "./model-client.ts";
import { mergeMeetingConfig } from "./parallel-merge.ts";
import { checkBudget, costOfUsage, OFFLINE_MODEL_ID } from "./pricing.ts";
import { buildMessages, promptChars } from "./prompts.ts";
import {
  type MeetingClientFrame,
  MeetingClientFrameSchema,
  type MeetingErrorCode,
  type MeetingMessage,
  MEETING_SOCKET_LIMITS,
  type MeetingState,
} from "./protocol.ts";
import { parseSummary } from "./summary.ts";
import { TokenCoalescer } from "./token-coalescer.ts";
import type { TranscriptEntry } from "./transcript.ts";
import type { Turn } from "./turn-plan.ts";
import { loggableError } from "../../worker/lib/safe-log.ts";

export interface MeetingInit {
  meetingId: string;
  teamId: string;
  title: string;
  config: MeetingConfig;
  plan: Turn[];
  /** a branch's shared transcript (already written to Postgres for the new meeting) */
  inherited: MeetingMessage[];
  mergeGroupId: string | null;
  mergeRole: "copy" | "merge" | null;
  /** for a parallel copy: the original configuration its merge meeting is built from */
  mergeBase: MeetingConfig | null;
}

interface Meta extends MeetingInit {
  /** who started it: their key (or the deployment's) pays, and their rate limits apply */
  startedBy: string | null;
}

interface PendingInterjection {
  authorId: string;
  name: string;
  text: string;
}

/** A finished turn kept until Postgres has it, so a failed write is retried without asking the model again. */
interface UncommittedTurn {
  message: MeetingMessage;
  ledger: LedgerEntry;
}

/** Per-user model-call limits held in the room. */
export const USER_LIMITS = { requestsPerMinute: 60, tokensPerMinute: 400_000 } as const;
const MAX_ATTEMPTS = 5;
/**
 * A step that fails (Postgres unreachable, …) is retried by the alarm with exponential backoff
 * from RETRY_BASE_MS up to RETRY_BASE_MS × STEP_MAX_DELAY_FACTOR (60 s in production); after
 * STEP_ATTEMPTS failures in a row (about 3 minutes) the meeting is paused with
 * DATABASE_UNAVAILABLE. A status Postgres has not taken yet is written again at that longest delay.
 */
const STEP_ATTEMPTS = 10;
const STEP_MAX_DELAY_FACTOR = 120;
/** One Postgres write may take this long before the step counts as failed (a hung connection must not wedge the room). */
const DB_WRITE_TIMEOUT_MS = 30_000;

const EDITORS = ["owner", "editor"] as const;

export class MeetingRoom extends RoomBase<MeetingClientFrame> {
  #pool: { db: TxDb; pool: Pool } | undefined;
  #abort: AbortController | undefined;
  #apiKey: { value: string; source: "user" | "deployment" } | undefined;
  readonly #tokens: TokenCoalescer;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env, {
      clientFrame: MeetingClientFrameSchema,
      permissions: {
        ping: ["owner", "editor", "viewer"],
        start: EDITORS,
        pause: EDITORS,
        resume: EDITORS,
        cancel: EDITORS,
        interject: EDITORS,
      },
      maxEvents: 0,
      replayWithoutSince: "all",
      maxFrameBytes: MEETING_SOCKET_LIMITS.maxFrameBytes,
      // A newcomer gets each finished turn as its final message, not as every streamed delta,
      // and only the latest presence; the log itself drops those too, so it stays bounded.
      compactReplay: { token: "message", presence: "presence" },
      compactStored: true,
    });
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS messages (position INTEGER PRIMARY KEY, json TEXT NOT NULL)");
    this.#tokens = new TokenCoalescer({
      viewers: () => this.ctx.getWebSockets().length,
      flush: (turnIndex, text, firstAt) => this.publish("token", { turnIndex, text, firstAt }),
    });
    // A running meeting (or a status Postgres has not taken yet) always has its next step
    // scheduled, also after a crash or a deploy.
    void ctx.blockConcurrencyWhile(async () => {
      const due = this.#state().status === "running" || this.ctx.storage.kv.get("pendingStatus") !== undefined;
      if (due && (await ctx.storage.getAlarm()) === null) await ctx.storage.setAlarm(Date.now());
    });
  }

  // ── state ────────────────────────────────────────────────────────────────────────────────

  #meta(): Meta | undefined {
    return this.ctx.storage.kv.get<Meta>("meta");
  }

  #state(): MeetingState {
    return (
      this.ctx.storage.kv.get<MeetingState>("state") ?? {
        status: "pending",
        completedTurns: 0,
        totalTurns: 0,
        costUsd: 0,
        provider: null,
        errorCode: null,
        errorMessage: null,
      }
    );
  }

  #setState(patch: Partial<MeetingState>, announce = true): MeetingState {
    const next = { ...this.#state(), ...patch };
    this.ctx.storage.kv.put("state", next);
    if (announce) this.publish("meeting_state", { ...next });
    return next;
  }

  #messages(): MeetingMessage[] {
    return this.ctx.storage.sql
      .exec<{ json: string }>("SELECT json FROM messages ORDER BY position")
      .toArray()
      .map((r) => JSON.parse(r.json) as MeetingMessage);
  }

  #nextPosition(): number {
    const row = this.ctx.storage.sql.exec<{ p: number | null }>("SELECT max(position) AS p FROM messages").one();
    return (row.p ?? -1) + 1;
  }

  #storeMessage(m: MeetingMessage): void {
    this.ctx.storage.sql.exec("INSERT OR REPLACE INTO messages (position, json) VALUES (?, ?)", m.position, JSON.stringify(m));
  }

  #db(): AnyDb {
    this.#pool ??= createPool(this.env);
    return this.#pool.db as unknown as AnyDb;
  }

  /** A Postgres write that gives up after DB_WRITE_TIMEOUT_MS (the step then fails and is retried). */
  async #persist<T>(write: (db: AnyDb) => Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Postgres did not answer within ${DB_WRITE_TIMEOUT_MS} ms`)), DB_WRITE_TIMEOUT_MS);
    });
    try {
      return await Promise.race([write(this.#db()), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Writes the meeting's status to Postgres; a newer status replaces one still waiting to be written. */
  async #writeStatus(meetingId: string, update: StatusUpdate): Promise<void> {
    await this.#persist((db) => updateMeetingStatus(db, meetingId, update));
    this.ctx.storage.kv.delete("pendingStatus");
  }

  #retryBaseMs(): number {
    return Number(this.env.RETRY_BASE_MS ?? 500);
  }

  // ── RPC from the Worker ──────────────────────────────────────────────────────────────────

  /** Sets the meeting up once; later calls are ignored (idempotent). */
  async init(input: MeetingInit): Promise<MeetingState> {
    if (this.#meta()) return this.#state();
    const config = MeetingConfigSchema.parse(input.config);
    this.ctx.storage.kv.put("meta", { ...input, config, startedBy: null } satisfies Meta);
    for (const m of input.inherited) this.#storeMessage(m);
    const completedTurns = input.inherited.filter((m) => m.turnIndex !== null).length;
    const costUsd = input.inherited.reduce((sum, m) => sum + m.costUsd, 0);
    return this.#setState({ totalTurns: input.plan.length, completedTurns, costUsd });
  }

  state(): MeetingState {
    return this.#state();
  }

  /** The turn plan (a branch's differs from a fresh plan of its config). */
  plan(): Turn[] | undefined {
    return this.#meta()?.plan;
  }

  /** A command through REST (e.g. "start" right after creation); same rules as over the socket. */
  async command(identity: RoomIdentity, frame: MeetingClientFrame): Promise<{ ok: true } | { ok: false; code: string; message: string }> {
    return this.#handle(frame, identity);
  }

  // ── sockets ──────────────────────────────────────────────────────────────────────────────

  protected override async onFrame(ws: WebSocket, frame: MeetingClientFrame, identity: RoomIdentity): Promise<void> {
    const result = await this.#handle(frame, identity);
    if (!result.ok) ws.send(JSON.stringify({ type: "error", code: result.code, message: result.message }));
  }

  async #handle(frame: MeetingClientFrame, identity: RoomIdentity): Promise<{ ok: true } | { ok: false; code: string; message: string }> {
    const meta = this.#meta();
    if (!meta) return { ok: false, code: "INVALID_STATE", message: "This meeting is not set up." };
    const { status } = this.#state();
    const refuse = (message: string) => ({ ok: false as const, code: "INVALID_STATE", message });
    switch (frame.type) {
      case "ping":
        return { ok: true };
      case "start": {
        if (status !== "pending") return refuse(`The meeting is ${status}; only a pending meeting can be started.`);
        const provider = await this.#chooseProvider(identity.userId);
        // On the deployment's key: the starter's daily spend must have room, and the deployment's budget rules apply.
        let config = meta.config;
        if (this.#apiKey?.source === "deployment") {
          try {
            config = await admitOnDeploymentKey(this.#db(), identity.userId, meta.config);
          } catch (e: unknown) {
            if (e instanceof ApiError) return { ok: false, code: e.code, message: e.message };
            throw e;
          }
        }
        this.ctx.storage.kv.put("meta", { ...meta, config, startedBy: identity.userId });
        const startedAt = new Date();
        await this.#writeStatus(meta.meetingId, {
          status: "running",
          provider,
          startedAt,
          errorCode: null,
          errorMessage: null,
          ...(config !== meta.config && { config: config as unknown as Record<string, unknown> }),
        });
        this.#setState({ status: "running", provider });
        await this.ctx.storage.setAlarm(Date.now());
        return { ok: true };
      }
      case "pause":
        if (status !== "running") return refuse(`The meeting is ${status}; only a running meeting can be paused.`);
        await this.#writeStatus(meta.meetingId, { status: "paused" });
        this.#setState({ status: "paused" });
        return { ok: true };
      case "resume":
        if (status !== "paused") return refuse(`The meeting is ${status}; only a paused meeting can be resumed.`);
        // A meeting paused by a failure (DATABASE_UNAVAILABLE) starts over with a clean slate.
        await this.#writeStatus(meta.meetingId, { status: "running", errorCode: null, errorMessage: null });
        this.ctx.storage.kv.delete("stepFailures");
        this.#setState({ status: "running", errorCode: null, errorMessage: null });
        await this.ctx.storage.setAlarm(Date.now());
        return { ok: true };
      case "cancel":
        if (status !== "pending" && status !== "running" && status !== "paused") return refuse(`The meeting is already ${status}.`);
        this.#abort?.abort();
        this.#tokens.discard();
        await this.#writeStatus(meta.meetingId, { status: "cancelled", completedAt: new Date() });
        this.#setState({ status: "cancelled" });
        return { ok: true };
      case "interject": {
        if (status === "completed" || status === "failed" || status === "cancelled") return refuse(`The meeting is ${status}.`);
        const queue = this.ctx.storage.kv.get<PendingInterjection[]>("interjections") ?? [];
        const limits = MEETING_SOCKET_LIMITS;
        if (queue.length >= limits.maxPendingInterjections) {
          return {
            ok: false,
            code: "QUEUE_FULL",
            message: `${queue.length} interjections are already waiting for the next turn; send yours after they land.`,
          };
        }
        if (this.#interjectionCount() + queue.length >= limits.maxInterjectionsPerMeeting) {
          return {
            ok: false,
            code: "INTERJECTION_LIMIT",
            message: `A meeting takes at most ${limits.maxInterjectionsPerMeeting} interjections.`,
          };
        }
        queue.push({ authorId: identity.userId, name: identity.displayName || identity.name, text: frame.text });
        this.ctx.storage.kv.put("interjections", queue);
        return { ok: true };
      }
    }
  }

  // ── running the plan ─────────────────────────────────────────────────────────────────────

  async #chooseProvider(userId: string): Promise<"anthropic" | "offline"> {
    this.#apiKey = undefined;
    const key = await this.#resolveKey(userId);
    return key ? "anthropic" : "offline";
  }

  async #resolveKey(userId: string | null): Promise<{ value: string; source: "user" | "deployment" } | undefined> {
    if (this.#apiKey) return this.#apiKey;
    if (userId && this.env.ENCRYPTION_KEYS) {
      const [row] = await this.#db()
        .select({ ciphertext: userApiKeys.ciphertext })
        .from(userApiKeys)
        .where(and(eq(userApiKeys.userId, userId), eq(userApiKeys.provider, "anthropic")));
      if (row) {
        const value = await openSecret(parseMasterKeys(this.env.ENCRYPTION_KEYS), `anthropic-key:${userId}`, row.ciphertext);
        this.#apiKey = { value, source: "user" };
        return this.#apiKey;
      }
    }
    if (this.env.ANTHROPIC_API_KEY) {
      this.#apiKey = { value: this.env.ANTHROPIC_API_KEY, source: "deployment" };
      return this.#apiKey;
    }
    return undefined;
  }

  #interjectionCount(): number {
    return this.ctx.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM messages WHERE json ->> 'kind' = 'interjection'").one().n;
  }

  /**
   * One step, then the next alarm. Never throws: a failed step is retried with backoff and ends in
   * a paused meeting, so a running meeting never sits with nothing scheduled (workerd would drop
   * an alarm that keeps throwing).
   */
  override async alarm(): Promise<void> {
    let again: number | undefined;
    try {
      again = await this.#step();
      this.ctx.storage.kv.delete("stepFailures");
    } catch (e: unknown) {
      again = this.#stepFailed(e);
    }
    const sync = await this.#syncStatus();
    const next = again === undefined ? sync : sync === undefined ? again : Math.min(again, sync);
    if (next !== undefined) await this.ctx.storage.setAlarm(Date.now() + next);
  }

  /** Counts a failed step; returns the backoff before the next try, or pauses the meeting after STEP_ATTEMPTS. */
  #stepFailed(e: unknown): number | undefined {
    const failures = (this.ctx.storage.kv.get<number>("stepFailures") ?? 0) + 1;
    // Only the class of the error: its message may quote SQL parameters.
    console.error(`meeting step failed (${failures}/${STEP_ATTEMPTS}):`, pgErrorCode(e) ?? (e instanceof Error ? e.name : typeof e));
    const meta = this.#meta();
    if (!meta || this.#state().status !== "running") {
      this.ctx.storage.kv.delete("stepFailures");
      return undefined;
    }
    if (failures < STEP_ATTEMPTS) {
      this.ctx.storage.kv.put("stepFailures", failures);
      const base = this.#retryBaseMs();
      return Math.min(base * 2 ** (failures - 1), base * STEP_MAX_DELAY_FACTOR);
    }
    this.ctx.storage.kv.delete("stepFailures");
    this.#abort?.abort();
    this.#tokens.discard();
    const message = `Saving the meeting failed ${failures} times in a row, so it is paused with its transcript kept. Resume it once the database is reachable again.`;
    const update = { status: "paused", errorCode: "DATABASE_UNAVAILABLE", errorMessage: message } as const;
    // Postgres gets the status as soon as it answers again (#syncStatus); until then the room has it.
    this.ctx.storage.kv.put("pendingStatus", update);
    this.#setState(update);
    this.publish("error", { code: "DATABASE_UNAVAILABLE", message });
    return undefined;
  }

  /** Writes a status Postgres could not take earlier; returns when to try again, or undefined when done. */
  async #syncStatus(): Promise<number | undefined> {
    const pending = this.ctx.storage.kv.get<StatusUpdate>("pendingStatus");
    const meta = this.#meta();
    if (!pending || !meta) return undefined;
    try {
      await this.#writeStatus(meta.meetingId, pending);
      return undefined;
    } catch {
      return this.#retryBaseMs() * STEP_MAX_DELAY_FACTOR;
    }
  }

  /** Runs one unit of work; returns the delay before the next one, or undefined when idle. */
  async #step(): Promise<number | undefined> {
    const meta = this.#meta();
    const state = this.#state();
    if (!meta || state.status !== "running") return undefined;

    // A finished turn whose Postgres write failed is written again, not asked for again.
    const uncommitted = this.ctx.storage.kv.get<UncommittedTurn>("uncommitted");
    const planned = uncommitted && meta.plan[uncommitted.message.turnIndex ?? -1];
    if (uncommitted && planned && planned.index === state.completedTurns) {
      await this.#commitTurn(meta, planned, uncommitted);
      return 0;
    }
    if (uncommitted) this.ctx.storage.kv.delete("uncommitted");

    if (this.log.size() >= MEETING_SOCKET_LIMITS.maxLogEvents) {
      await this.#fail(
        meta,
        "EVENT_LOG_FULL",
        `The meeting's event log reached its limit of ${MEETING_SOCKET_LIMITS.maxLogEvents} events.`,
      );
      return undefined;
    }

    // Interjections land at turn boundaries, before the next speaker.
    const queue = this.ctx.storage.kv.get<PendingInterjection[]>("interjections") ?? [];
    if (queue.length > 0) {
      const [first, ...rest] = queue as [PendingInterjection, ...PendingInterjection[]];
      const message: MeetingMessage = {
        position: this.#nextPosition(),
        turnIndex: null,
        round: null,
        kind: "interjection",
        speaker: first.name,
        authorId: first.authorId,
        text: first.text,
        model: null,
        usage: { inputTokens: 0, outputTokens: 0, cacheCreationTokens: 0, cacheReadTokens: 0 },
        costUsd: 0,
        createdAt: new Date().toISOString(),
      };
      try {
        await this.#persist((db) => commitMessage(db, meta.meetingId, message));
      } catch (e: unknown) {
        // Postgres refusing the text itself (SQLSTATE class 22, data exception) will not change on
        // a retry: drop this interjection and go on. Anything else (unreachable) is retried.
        if (!pgErrorCode(e)?.startsWith("22")) throw e;
        this.ctx.storage.kv.put("interjections", rest);
        this.publish("error", {
          code: "INTERJECTION_REJECTED",
          message: `The interjection by ${first.name} could not be saved and was dropped.`,
        });
        return 0;
      }
      this.#storeMessage(message);
      this.ctx.storage.kv.put("interjections", rest);
      this.publish("message", { message });
      return 0;
    }

    const turn = meta.plan[state.completedTurns];
    if (!turn) {
      await this.#finish(meta);
      return undefined;
    }
    const messages = this.#messages();
    const transcript = toTranscript(messages);
    const model = state.provider === "offline" ? OFFLINE_MODEL_ID : turn.agent.model;

    if (meta.config.maxCostUsd !== undefined && state.provider !== "offline") {
      const prompt = buildMessages(meta.config, turn, transcript);
      const budget = checkBudget({
        model,
        promptChars: promptChars(prompt),
        maxTokens: turn.maxTokens,
        spentUsd: state.costUsd,
        maxCostUsd: meta.config.maxCostUsd,
      });
      if (!budget.allowed) {
        await this.#fail(
          meta,
          "BUDGET_EXCEEDED",
          `The next turn could cost up to $${budget.worstCaseUsd.toFixed(4)}, more than the $${budget.remainingUsd.toFixed(4)} left of the meeting's $${meta.config.maxCostUsd} budget.`,
        );
        return undefined;
      }
    }

    // The same worst-case check against the starter's daily spend, when the deployment's key pays.
    if (state.provider !== "offline" && meta.startedBy && (await this.#resolveKey(meta.startedBy))?.source === "deployment") {
      const prompt = buildMessages(meta.config, turn, transcript);
      const refusal = await dailySpendRefusal(this.#db(), meta.startedBy, {
        model,
        promptChars: promptChars(prompt),
        maxTokens: turn.maxTokens,
      });
      if (refusal) {
        await this.#fail(meta, "DAILY_LIMIT_REACHED", refusal);
        return undefined;
      }
    }

    const wait = this.#userLimitWait(meta.startedBy);
    if (wait > 0) return wait;

    let source: ModelSource;
    if (state.provider === "offline") {
      source = { kind: "offline", delayMs: Number(this.env.OFFLINE_DELAY_MS ?? 20) };
    } else {
      const key = await this.#resolveKey(meta.startedBy);
      if (!key) {
        await this.#fail(meta, "KEY_UNAVAILABLE", "The Anthropic API key this meeting started with is no longer available.");
        return undefined;
      }
      source = { kind: "anthropic", apiKey: key.value, baseURL: this.env.ANTHROPIC_BASE_URL };
    }

    const previous = meta.plan[turn.index - 1];
    if (!previous || previous.round !== turn.round) this.publish("round_start", { round: turn.round, rounds: turn.rounds });

    for (let attempt = 1; ; attempt++) {
      this.publish("agent_speaking", { turnIndex: turn.index, round: turn.round, kind: turn.kind, speaker: turn.agent.title, model });
      this.#abort = new AbortController();
      try {
        const result = await callModel(
          source,
          meta.config,
          turn,
          transcript,
          (text) => this.#tokens.push(turn.index, text),
          this.#abort.signal,
        );
        this.#tokens.flushNow();
        if (this.#state().status === "cancelled") return undefined;
        const keySource = source.kind === "offline" ? "offline" : (this.#apiKey?.source ?? "deployment");
        await this.#commitTurn(meta, turn, this.#finishedTurn(meta, turn, result, keySource));
        return 0;
      } catch (e: unknown) {
        this.#tokens.discard();
        if (this.#state().status === "cancelled") return undefined;
        if (!(e instanceof ModelCallError)) throw e;
        if (!e.retryable || attempt >= MAX_ATTEMPTS) {
          await this.#fail(meta, e.code, `${e.message} The transcript so far is kept.`);
          return undefined;
        }
        await new Promise((r) => setTimeout(r, backoffMs(attempt, e.retryAfterMs, Number(this.env.RETRY_BASE_MS ?? 500))));
      } finally {
        this.#abort = undefined;
      }
    }
  }

  /** A model turn as the message to store; kept in the room until Postgres has it. */
  #finishedTurn(
    meta: Meta,
    turn: Turn,
    result: Awaited<ReturnType<typeof callModel>>,
    keySource: "user" | "deployment" | "offline",
  ): UncommittedTurn {
    const costUsd = keySource === "offline" ? 0 : costOfUsage(result.model, result.usage);
    const message: MeetingMessage = {
      position: this.#nextPosition(),
      turnIndex: turn.index,
      round: turn.round,
      kind: turn.kind,
      speaker: turn.agent.title,
      authorId: null,
      // A model may emit a NUL or a broken surrogate pair; Postgres would refuse the whole turn.
      text: toWellFormedText(result.text),
      model: result.model,
      usage: {
        inputTokens: result.usage.input_tokens,
        outputTokens: result.usage.output_tokens,
        cacheCreationTokens: result.usage.cache_creation_input_tokens,
        cacheReadTokens: result.usage.cache_read_input_tokens,
      },
      costUsd,
      createdAt: new Date().toISOString(),
    };
    const uncommitted = { message, ledger: { userId: meta.startedBy, turnIndex: turn.index, model: result.model, keySource } };
    this.ctx.storage.kv.put("uncommitted", uncommitted);
    return uncommitted;
  }

  async #commitTurn(meta: Meta, turn: Turn, { message, ledger }: UncommittedTurn): Promise<void> {
    const costUsd = message.costUsd;
    // Postgres first: a turn is final only once the system of record has it.
    await this.#persist((db) => commitMessage(db, meta.meetingId, message, ledger));
    // Then, with no await in between (one atomic storage batch): store, count, announce.
    this.ctx.storage.kv.delete("uncommitted");
    this.#storeMessage(message);
    this.#recordUserUsage(meta.startedBy, message.usage.inputTokens + message.usage.outputTokens);
    const state = this.#state();
    this.#setState({ completedTurns: state.completedTurns + 1, costUsd: state.costUsd + costUsd }, false);
    this.publish("message", { message });
    if (turn.endsRound && !turn.final) this.publish("round_complete", { round: turn.round });
    this.publish("meeting_state", { ...this.#state() });
  }

  async #finish(meta: Meta): Promise<void> {
    const messages = this.#messages();
    const last = [...messages].reverse().find((m) => m.turnIndex !== null);
    const summaryText = last?.text ?? "";
    const parsed = parseSummary(summaryText, { questions: meta.config.agendaQuestions });
    const summary = { ...parsed } as Record<string, unknown>;
    await this.#writeStatus(meta.meetingId, { status: "completed", summaryText, summary, completedAt: new Date() });
    const state = this.#setState({ status: "completed" }, false);
    this.publish("meeting_complete", { summaryText, summary, costUsd: state.costUsd });
    this.publish("meeting_state", { ...state });
    if (meta.mergeRole === "copy" && meta.mergeGroupId && meta.mergeBase) {
      await this.#maybeStartMerge(meta).catch((e: unknown) => console.error("starting the merge meeting failed", loggableError(e)));
    }
  }

  async #fail(meta: Meta, code: MeetingErrorCode, message: string): Promise<void> {
    await this.#writeStatus(meta.meetingId, {
      status: "failed",
      errorCode: code,
      errorMessage: message,
      completedAt: new Date(),
    });
    // Why it stopped, as an event of its own, then the final state.
    this.publish("error", { code, message });
    this.#setState({ status: "failed", errorCode: code, errorMessage: message });
  }

  /** The last copy of a parallel group to finish creates and starts the merge meeting. */
  async #maybeStartMerge(meta: Meta): Promise<void> {
    if (!meta.mergeGroupId || !meta.mergeBase) return;
    const db = this.#db();
    const group = await groupMembers(db, meta.mergeGroupId);
    const copies = group.filter((m) => m.mergeRole === "copy");
    if (group.some((m) => m.mergeRole === "merge") || copies.some((m) => m.status !== "completed")) return;
    const config = mergeMeetingConfig(
      meta.mergeBase,
      copies.map((m, i) => ({ text: m.summaryText ?? "", meetingId: m.id, label: `Summary ${i + 1}` })),
    );
    const { createMeeting } = await import("./meeting-factory.ts");
    const created = await createMeeting(this.env, db, {
      teamId: meta.teamId,
      createdBy: meta.startedBy,
      title: `Merge: ${(meta.mergeBase.agenda.split("\n")[0] ?? "").trim().slice(0, 110)}`,
      config,
      mergeGroupId: meta.mergeGroupId,
      mergeRole: "merge",
    }).catch((e: unknown) => {
      // Another copy finishing at the same moment won the race (unique merge per group).
      if (String((e as { code?: string })?.code ?? "") === "23505") return undefined;
      throw e;
    });
    if (created && meta.startedBy) {
      const stub = this.env.MEETING_ROOM.get(this.env.MEETING_ROOM.idFromName(created.id));
      await stub.command({ userId: meta.startedBy, name: "system", role: "owner" }, { type: "start" });
    }
  }

  #userLimitWait(userId: string | null): number {
    if (!userId) return 0;
    const now = Date.now();
    const requests = this.ctx.storage.kv.get<number[]>(`rl:req:${userId}`) ?? [];
    const decision = hitWindow(requests, now, USER_LIMITS.requestsPerMinute, 60_000);
    if (!decision.allowed) return decision.retryAfterSeconds * 1000;
    const tokens = (this.ctx.storage.kv.get<[number, number][]>(`rl:tok:${userId}`) ?? []).filter(([t]) => t > now - 60_000);
    const used = tokens.reduce((s, [, n]) => s + n, 0);
    if (used >= USER_LIMITS.tokensPerMinute) return Math.max(1000, (tokens[0]?.[0] ?? now) + 60_000 - now);
    this.ctx.storage.kv.put(`rl:req:${userId}`, decision.hits);
    return 0;
  }

  #recordUserUsage(userId: string | null, tokens: number): void {
    if (!userId) return;
    const now = Date.now();
    const list = (this.ctx.storage.kv.get<[number, number][]>(`rl:tok:${userId}`) ?? []).filter(([t]) => t > now - 60_000);
    list.push([now, tokens]);
    this.ctx.storage.kv.put(`rl:tok:${userId}`, list);
  }
}

/** The stored messages as the prompt builder reads them. */
export function toTranscript(messages: readonly MeetingMessage[]): TranscriptEntry[] {
  return messages.map((m) =>
    m.turnIndex === null
      ? { type: "interjection", name: m.speaker, text: m.text }
      : ({ type: "turn", turnIndex: m.turnIndex, round: m.round ?? 1, kind: m.kind, speaker: m.speaker, text: m.text } as TranscriptEntry),
  );
}
