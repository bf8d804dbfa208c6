/**
 * Parallel-and-merge (Virtual Lab): run K copies of a meeting at a higher temperature, then an
 * individual merge meeting in which the lead, at a low temperature, combines the best parts of the
 * K summaries and says which came from where. These helpers derive the configurations; the rooms
 * run them like any other meeting.
 *
 * Budget: a `maxCostUsd` on the original covers the whole group, so it is split evenly over the
 * K copies and the merge (each gets maxCostUsd / (K + 1)) unless the caller says otherwise.
 */
import {
  CONSISTENT_TEMPERATURE,
  CREATIVE_TEMPERATURE,
  leadOf,
  MEETING_LIMITS,
  type MeetingConfig,
  type MergeSource,
  parseMeetingConfig,
} from "./meeting-config.ts";

export interface ParallelOptions {
  /** K, the number of copies (2–10). */
  copies: number;
  /** Temperature of every copy; Virtual Lab's creative 0.8 by default (never lower than the original's). */
  temperature?: number;
  /** Budget of each copy; defaults to the original's budget / (K + 1). */
  maxCostUsdEach?: number;
}

function share(total: number | undefined, parts: number): number | undefined {
  return total === undefined ? undefined : total / parts;
}

/** K copies of `config` to run in parallel at a higher temperature. */
export function parallelCopies(config: MeetingConfig, options: ParallelOptions): MeetingConfig[] {
  const k = options.copies;
  if (!Number.isInteger(k) || k < MEETING_LIMITS.minMergeSources || k > MEETING_LIMITS.maxMergeSources) {
    throw new RangeError(`copies must be an integer from ${MEETING_LIMITS.minMergeSources} to ${MEETING_LIMITS.maxMergeSources}`);
  }
  const temperature = options.temperature ?? Math.max(config.temperature, CREATIVE_TEMPERATURE);
  const maxCostUsd = options.maxCostUsdEach ?? share(config.maxCostUsd, k + 1);
  // Parse each copy on its own so no two copies share nested objects.
  return Array.from({ length: k }, () => parseMeetingConfig({ ...config, temperature, maxCostUsd }));
}

/** Label of the i-th (0-based) summary in a merge, as provenance refers to it. */
export function mergeSourceLabel(i: number): string {
  return `Summary ${i + 1}`;
}

export interface MergeOptions {
  /** Merge temperature; Virtual Lab's consistent 0.2 by default. */
  temperature?: number;
  /** Rounds of the merge meeting; 1 (draft, critique, final) by default. */
  rounds?: number;
  /** Whether the critic reviews the merge; as in the original meeting by default. */
  critic?: boolean;
  /** Budget of the merge; defaults to the original's budget / (K + 1). */
  maxCostUsd?: number;
}

/**
 * The individual merge meeting for the summaries of K parallel copies of `config`: led by the
 * original's lead, same agenda, questions, rules, contexts and earlier summaries, with the K
 * summaries as labelled merge sources ("Summary 1"…).
 */
export function mergeMeetingConfig(
  config: MeetingConfig,
  sourceSummaries: readonly (string | { text: string; meetingId?: string; label?: string })[],
  options: MergeOptions = {},
): MeetingConfig {
  const sources: MergeSource[] = sourceSummaries.map((s, i) =>
    typeof s === "string"
      ? { label: mergeSourceLabel(i), text: s }
      : { label: s.label ?? mergeSourceLabel(i), text: s.text, ...(s.meetingId !== undefined && { meetingId: s.meetingId }) },
  );
  const maxCostUsd = options.maxCostUsd ?? share(config.maxCostUsd, sources.length + 1);
  return parseMeetingConfig({
    type: "individual",
    member: leadOf(config),
    agenda: config.agenda,
    agendaQuestions: config.agendaQuestions,
    agendaRules: config.agendaRules,
    contexts: config.contexts,
    summaries: config.summaries,
    rounds: options.rounds ?? 1,
    temperature: options.temperature ?? CONSISTENT_TEMPERATURE,
    critic: options.critic ?? config.critic,
    ...(config.criticAgent && { criticAgent: config.criticAgent }),
    ...(maxCostUsd !== undefined && { maxCostUsd }),
    maxTokensPerTurn: config.maxTokensPerTurn,
    merge: { sources },
  });
}
