/** Meeting configurations shared by the meeting core tests. */
import {
  type Agent,
  type MeetingConfigInput,
  PRINCIPAL_INVESTIGATOR,
  parseMeetingConfig,
} from "../../../durable-objects/meeting/meeting-config.ts";

export const IMMUNOLOGIST: Agent = {
  title: "Immunologist",
  expertise: "antibody engineering and immune response",
  goal: "design nanobodies that bind the new variant",
  role: "propose and critique binder candidates",
  model: "claude-sonnet-4-6",
};

export const ML_SPECIALIST: Agent = {
  title: "Machine Learning Specialist",
  expertise: "protein language models and structure prediction",
  goal: "rank candidate mutations computationally",
  role: "choose and run the computational tools",
  model: "claude-haiku-4-5",
};

export const BIOLOGIST: Agent = {
  title: "Computational Biologist",
  expertise: "molecular dynamics and binding free energy",
  goal: "validate candidates in silico before the wet lab",
  role: "design the validation pipeline",
  model: "claude-sonnet-4-6",
};

export const AGENDA = "Decide how to design nanobodies against the newest SARS-CoV-2 variant. We have two months and one wet-lab slot.";
export const QUESTIONS = [
  "Should we start from existing nanobodies or design de novo?",
  "Which computational tools should we use, and in what order?",
];
export const RULES = ["Only use tools that are freely available.", "Keep the wet-lab budget under two experiments."];

export function teamConfig(overrides: Partial<MeetingConfigInput> = {}) {
  return parseMeetingConfig({
    type: "team",
    agenda: AGENDA,
    agendaQuestions: QUESTIONS,
    agendaRules: RULES,
    contexts: ["Variant KP.3 carries mutations F456L and Q493E in the receptor-binding domain."],
    summaries: ["### Recommendation\n\nLast time we chose to reuse Ty1 and H11-D4 as starting points."],
    rounds: 2,
    temperature: 0.5,
    critic: false,
    lead: PRINCIPAL_INVESTIGATOR,
    members: [IMMUNOLOGIST, ML_SPECIALIST, BIOLOGIST],
    ...overrides,
  } as MeetingConfigInput);
}

export function individualConfig(overrides: Partial<MeetingConfigInput> = {}) {
  return parseMeetingConfig({
    type: "individual",
    agenda: AGENDA,
    agendaQuestions: QUESTIONS,
    agendaRules: RULES,
    rounds: 2,
    critic: true,
    member: ML_SPECIALIST,
    ...overrides,
  } as MeetingConfigInput);
}
