import { describe, expect, it } from "vitest";
import {
  checkBudget,
  costOfUsage,
  estimatePromptTokens,
  estimateWorstCaseCost,
  FALLBACK_PRICE,
  OFFLINE_MODEL_ID,
  priceFor,
} from "../../../durable-objects/meeting/pricing.ts";

describe("priceFor", () => {
  it("resolves exact ids, dated ids and unlisted point releases to their family", () => {
    expect(priceFor("claude-sonnet-4-5").matched).toBe("claude-sonnet-4-5");
    expect(priceFor("claude-sonnet-4-5-20250929").matched).toBe("claude-sonnet-4-5");
    expect(priceFor("claude-opus-4-5-20251101").price.input).toBe(5);
    expect(priceFor("claude-opus-4-20250514").price.input).toBe(15);
    expect(priceFor("claude-opus-4-1").price.output).toBe(75);
    expect(priceFor("claude-haiku-4-5").price).toMatchObject({ input: 1, output: 5, cacheWrite: 1.25, cacheRead: 0.1 });
    expect(priceFor("claude-fable-5-2").matched).toBe("claude-fable-5");
  });

  it("prices an unknown model at the dearest rates and says so", () => {
    expect(priceFor("gpt-something")).toEqual({ price: FALLBACK_PRICE, known: false });
  });
});

describe("costOfUsage", () => {
  it("adds input, output, cache writes and cache reads at the model's rates", () => {
    const usage = { input_tokens: 1_000, output_tokens: 500, cache_creation_input_tokens: 2_000, cache_read_input_tokens: 10_000 };
    // Sonnet 4.5: $3 in, $15 out, $3.75 cache write, $0.30 cache read per million.
    const expected = (1_000 * 3 + 500 * 15 + 2_000 * 3.75 + 10_000 * 0.3) / 1e6;
    expect(costOfUsage("claude-sonnet-4-5", usage)).toBeCloseTo(expected, 12);
    expect(costOfUsage("claude-sonnet-4-5", usage)).toBeCloseTo(0.021, 12);
  });

  it("treats missing or null cache counts as zero", () => {
    expect(costOfUsage("claude-haiku-4-5", { input_tokens: 1_000_000, output_tokens: 0, cache_read_input_tokens: null })).toBeCloseTo(
      1,
      12,
    );
  });

  it("prices 1-hour cache writes at twice the input rate when the API splits them out", () => {
    const usage = {
      input_tokens: 0,
      output_tokens: 0,
      cache_creation_input_tokens: 3_000,
      cache_creation: { ephemeral_5m_input_tokens: 1_000, ephemeral_1h_input_tokens: 2_000 },
    };
    expect(costOfUsage("claude-opus-4-5", usage)).toBeCloseTo((1_000 * 6.25 + 2_000 * 10) / 1e6, 12);
  });

  it("applies long-context rates to the whole call above the model's threshold", () => {
    const small = costOfUsage("claude-sonnet-4-5", { input_tokens: 200_000, output_tokens: 1_000 });
    const large = costOfUsage("claude-sonnet-4-5", { input_tokens: 200_001, output_tokens: 1_000 });
    expect(small).toBeCloseTo((200_000 * 3 + 1_000 * 15) / 1e6, 12);
    expect(large).toBeCloseTo((200_001 * 6 + 1_000 * 22.5) / 1e6, 12);
  });

  it("the offline model is free", () => {
    expect(costOfUsage(OFFLINE_MODEL_ID, { input_tokens: 5_000, output_tokens: 5_000 })).toBe(0);
  });
});

describe("budget", () => {
  it("estimates the worst case from the prompt size and max_tokens", () => {
    const tokens = estimatePromptTokens(30_000);
    expect(tokens).toBeGreaterThanOrEqual(10_000);
    // Every prompt token at the dearest input rate (a 1-hour cache write: $6/M for Sonnet 4.5), every output token generated.
    expect(estimateWorstCaseCost("claude-sonnet-4-5", 30_000, 4_096)).toBeCloseTo((tokens * 6 + 4_096 * 15) / 1e6, 12);
  });

  it("the worst case is never below the real cost of a call of that size", () => {
    const promptChars = 40_000; // ~10k tokens of English at 4 chars per token
    const actual = costOfUsage("claude-opus-4-5", { input_tokens: 10_000, output_tokens: 4_096 });
    expect(estimateWorstCaseCost("claude-opus-4-5", promptChars, 4_096)).toBeGreaterThan(actual);
  });

  it("refuses a call whose worst case could take the meeting over budget, and allows one that fits", () => {
    const base = { model: "claude-sonnet-4-5", promptChars: 30_000, maxTokens: 4_096 };
    const worst = estimateWorstCaseCost(base.model, base.promptChars, base.maxTokens);
    expect(checkBudget({ ...base, spentUsd: 0, maxCostUsd: worst })).toMatchObject({ allowed: true, remainingUsd: worst });
    expect(checkBudget({ ...base, spentUsd: 0.01, maxCostUsd: worst }).allowed).toBe(false);
    expect(checkBudget({ ...base, spentUsd: 100 }).allowed).toBe(true);
  });
});
