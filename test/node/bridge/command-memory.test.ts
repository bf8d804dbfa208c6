/**
 * The memory of finished commands: bounded LRU, persisted, and tolerant of a damaged file.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CommandMemory } from "../../../node-bridge/command-memory.ts";
import { silentLogger } from "../../../node-bridge/log.ts";

describe("command memory", () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "atrium-memory-"));
    file = join(dir, "state", "commands.json");
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("keeps the most recently used ids up to its capacity and survives a reopen, delivery marks included", async () => {
    const memory = await CommandMemory.open(file, { capacity: 3, log: silentLogger });
    for (const id of ["a", "b", "c"]) await memory.remember(id, { kind: "complete", result: { id } });
    memory.get("a"); // used again: "b" is now the oldest
    await memory.remember("d", { kind: "failed", error: { code: "POD_FAILED", message: "boom" } });
    await memory.markDelivered("a");
    expect(memory.get("b")).toBeUndefined();

    const reopened = await CommandMemory.open(file, { capacity: 3, log: silentLogger });
    expect(reopened.size).toBe(3);
    expect(reopened.get("d")?.outcome).toEqual({ kind: "failed", error: { code: "POD_FAILED", message: "boom" } });
    expect(
      reopened
        .undelivered()
        .map((e) => e.id)
        .sort(),
    ).toEqual(["c", "d"]);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it("sets a corrupt file aside and starts empty", async () => {
    const memory = await CommandMemory.open(file, { log: silentLogger });
    await memory.remember("a", { kind: "complete", result: {} });
    writeFileSync(file, "{ half a json");
    const reopened = await CommandMemory.open(file, { log: silentLogger });
    expect(reopened.size).toBe(0);
    expect(readdirSync(join(dir, "state")).some((f) => f.startsWith("commands.json.corrupt-"))).toBe(true);
    await reopened.remember("b", { kind: "complete", result: {} });
    expect(JSON.parse(readFileSync(file, "utf8")).entries).toHaveLength(1);
  });
});
