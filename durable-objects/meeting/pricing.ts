/**
 * What model calls cost: a price table of Claude models, the cost of a call from the API's real
 * `usage`, and a worst-case estimate of the next call so a meeting's `maxCostUsd` can be checked
 * before every call. Prices are USD per million tokens, from Anthropic's pricing pages (checked
 * 2026-10); update them here only.
 */

/** Per-million-token prices of one model. */
export interface ModelPrice {
  input: number;
  output: number;
  /** 5-minute cache writes (the default TTL): 1.25 × input. */
  cacheWrite: number;
  /** 1-hour cache writes: 2 × input. */
  cacheWrite1h: number;
  cacheRead: number;
  /** Higher rates that apply to the whole call when its prompt exceeds a size. */
  longContext?: { aboveInputTokens: number; price: Omit<ModelPrice, "longContext"> };
}

/** The token counts of the Messages API `usage` object (the fields that are billed). */
export interface TokenUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  /** Split of cache writes by TTL, when the API reports it. */
  cache_creation?: { ephemeral_5m_input_tokens?: number | null; ephemeral_1h_input_tokens?: number | null } | null;
}

/** Model id of the offline model; it costs nothing. */
export const OFFLINE_MODEL_ID = "atrium-offline";

const p = (input: number, output: number, cacheRead: number): ModelPrice => ({
  input,
  output,
  cacheWrite: input * 1.25,
  cacheWrite1h: input * 2,
  cacheRead,
});

const FABLE_5_1 = p(10, 50, 0.25);
const FABLE_5 = p(10, 50, 1);
const OPUS_5_5 = p(4, 20, 0.2);
const OPUS_4_5_TO_5 = p(5, 25, 0.5);
const OPUS_4_AND_4_1 = p(15, 75, 1.5);
const SONNET_5_5 = p(2, 10, 0.2);
// Sonnet 5's introductory $2/$10 ended on 2026-08-31; it bills like Sonnet 4.6 since.
const SONNET_5 = p(3, 15, 0.3);
// Sonnet 4 / 4.5 charge long-context rates above 200k prompt tokens (1M-context beta); 4.6 dropped the surcharge.
const SONNET_4 = { ...p(3, 15, 0.3), longContext: { aboveInputTokens: 200_000, price: { ...p(6, 22.5, 0.6) } } };
const SONNET_4_6 = p(3, 15, 0.3);
// Haiku 5.5 is tiered: prompts over 100k tokens bill at 5× for the whole call.
const HAIKU_5_5 = { ...p(0.1, 0.5, 0.01), longContext: { aboveInputTokens: 100_000, price: p(0.5, 2.5, 0.05) } };
const HAIKU_4_5 = p(1, 5, 0.1);
const HAIKU_3_5 = p(0.8, 4, 0.08);

/**
 * Model id (or family prefix) → price. Lookup takes the longest entry that equals the id or is
 * followed by "-" in it, so dated ids (`claude-opus-4-5-20251101`) and unlisted point releases
 * (`claude-fable-5-2` → Fable 5) resolve to their family.
 */
export const MODEL_PRICES: Readonly<Record<string, ModelPrice>> = Object.freeze({
  [OFFLINE_MODEL_ID]: p(0, 0, 0),
  "claude-fable-5-1": FABLE_5_1,
  "claude-mythos-5-1": FABLE_5_1,
  "claude-fable-5": FABLE_5,
  "claude-mythos-5": FABLE_5,
  "claude-opus-5-5": OPUS_5_5,
  "claude-opus-5": OPUS_4_5_TO_5,
  "claude-opus-4-8": OPUS_4_5_TO_5,
  "claude-opus-4-7": OPUS_4_5_TO_5,
  "claude-opus-4-6": OPUS_4_5_TO_5,
  "claude-opus-4-5": OPUS_4_5_TO_5,
  "claude-opus-4-1": OPUS_4_AND_4_1,
  "claude-opus-4": OPUS_4_AND_4_1,
  "claude-sonnet-5-5": SONNET_5_5,
  "claude-sonnet-5": SONNET_5,
  "claude-sonnet-4-6": SONNET_4_6,
  "claude-sonnet-4-5": SONNET_4,
  "claude-sonnet-4": SONNET_4,
  "claude-haiku-5-5": HAIKU_5_5,
  "claude-haiku-4-5": HAIKU_4_5,
  "claude-3-5-haiku": HAIKU_3_5,
});

/**
 * Price of a model nobody listed: the dearest rates in the table, so a budget check errs towards
 * refusing rather than overspending. Cost reports mark it with `known: false`.
 */
export const FALLBACK_PRICE: ModelPrice = Object.freeze(p(15, 75, 1.5));

export interface PriceLookup {
  price: ModelPrice;
  /** The table key that matched, or undefined for the fallback. */
  matched?: string;
  known: boolean;
}

/** Finds the price of a model id (see MODEL_PRICES for the matching rule). */
export function priceFor(model: string): PriceLookup {
  const id = model.trim().toLowerCase();
  let best: string | undefined;
  for (const key of Object.keys(MODEL_PRICES)) {
    if ((id === key || id.startsWith(`${key}-`)) && (best === undefined || key.length > best.length)) best = key;
  }
  const price = best === undefined ? undefined : MODEL_PRICES[best];
  return price ? { price, matched: best, known: true } : { price: FALLBACK_PRICE, known: false };
}

/** Rates for a call whose prompt has `promptTokens` tokens (input + cache writes + cache reads). */
function ratesFor(price: ModelPrice, promptTokens: number): Omit<ModelPrice, "longContext"> {
  return price.longContext && promptTokens > price.longContext.aboveInputTokens ? price.longContext.price : price;
}

const PER_MILLION = 1_000_000;

/** Cost in USD of one call from its reported `usage`. */
export function costOfUsage(model: string, usage: TokenUsage): number {
  const { price } = priceFor(model);
  const input = usage.input_tokens;
  const cacheWrites = usage.cache_creation_input_tokens ?? 0;
  const cacheReads = usage.cache_read_input_tokens ?? 0;
  const rates = ratesFor(price, input + cacheWrites + cacheReads);
  // Price 1-hour writes at their own rate when the API splits them out; the rest are 5-minute writes.
  const writes1h = Math.min(usage.cache_creation?.ephemeral_1h_input_tokens ?? 0, cacheWrites);
  const writes5m = cacheWrites - writes1h;
  const tokenDollars =
    input * rates.input +
    writes5m * rates.cacheWrite +
    writes1h * rates.cacheWrite1h +
    cacheReads * rates.cacheRead +
    usage.output_tokens * rates.output;
  return tokenDollars / PER_MILLION;
}

/**
 * Characters per token assumed when estimating a prompt's size. English prose runs ~4 characters
 * per token and Claude 4.7+'s tokenizer yields ~30% more tokens for the same text, so 3 keeps
 * the estimate above the real count for ordinary text; pass a smaller ratio for code or non-Latin
 * scripts (or one measured from earlier calls of the same meeting).
 */
export const DEFAULT_CHARS_PER_TOKEN = 3;
/** Tokens the API adds around the messages (role markers, system framing). */
const REQUEST_OVERHEAD_TOKENS = 64;

export interface WorstCaseOptions {
  charsPerToken?: number;
}

/** Estimated prompt tokens of `promptChars` characters of prompt text. */
export function estimatePromptTokens(promptChars: number, options: WorstCaseOptions = {}): number {
  const ratio = options.charsPerToken ?? DEFAULT_CHARS_PER_TOKEN;
  return Math.ceil(Math.max(0, promptChars) / ratio) + REQUEST_OVERHEAD_TOKENS;
}

/**
 * Upper estimate in USD of the next call: every prompt token billed at the dearest input rate
 * (a 1-hour cache write, in case the caller marks the prompt for caching) and all `maxTokens`
 * generated.
 */
export function estimateWorstCaseCost(model: string, promptChars: number, maxTokens: number, options: WorstCaseOptions = {}): number {
  const { price } = priceFor(model);
  const promptTokens = estimatePromptTokens(promptChars, options);
  const rates = ratesFor(price, promptTokens);
  const inputRate = Math.max(rates.input, rates.cacheWrite, rates.cacheWrite1h);
  return (promptTokens * inputRate + Math.max(0, maxTokens) * rates.output) / PER_MILLION;
}

export interface BudgetCheckInput extends WorstCaseOptions {
  model: string;
  promptChars: number;
  maxTokens: number;
  /** What the meeting has spent so far (USD). */
  spentUsd: number;
  /** The meeting's budget; undefined means no limit. */
  maxCostUsd?: number | undefined;
}

export interface BudgetCheck {
  allowed: boolean;
  worstCaseUsd: number;
  /** Budget left before the call (Infinity without a budget). */
  remainingUsd: number;
}

/** Whether the next call may run: refused when its worst case could take the meeting over budget. */
export function checkBudget(input: BudgetCheckInput): BudgetCheck {
  const worstCaseUsd = estimateWorstCaseCost(input.model, input.promptChars, input.maxTokens, input);
  if (input.maxCostUsd === undefined) return { allowed: true, worstCaseUsd, remainingUsd: Number.POSITIVE_INFINITY };
  const remainingUsd = input.maxCostUsd - input.spentUsd;
  return { allowed: worstCaseUsd <= remainingUsd, worstCaseUsd, remainingUsd };
}
