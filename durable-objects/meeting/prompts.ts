/**
 * Prompt builder: turns (configuration, planned turn, transcript so far) into the system prompt
 * and conversation of an Anthropic Messages API request (messages-request.ts adds the model and
 * limits). Virtual Lab style: every turn sees the meeting brief (attendees, earlier summaries,
 * contexts, agenda, questions, rules) and the whole discussion so far with each contribution
 * labelled with its speaker, then the instruction for this turn.
 *
 * Rendering: the speaking agent's own earlier turns are `assistant` messages (so it does not
 * mistake them for someone else's); everyone else's turns, human interjections, round markers and
 * the instruction are labelled text in `user` messages. Adjacent same-role parts are merged, so
 * roles alternate and the conversation always starts and ends with `user`. The brief comes first
 * and never changes during a meeting, so the prefix of every request is stable (prompt caching).
 */
import { type Agent, criticOf, leadOf, type MeetingConfig } from "./meeting-config.ts";
import type { TranscriptEntry } from "./transcript.ts";
import type { Turn } from "./turn-plan.ts";

export interface PromptMessage {
  role: "user" | "assistant";
  content: string;
}

export interface BuiltPrompt {
  system: string;
  messages: PromptMessage[];
}

const clean = (s: string) => s.trim().replace(/[.\s]+$/, "");
const article = (title: string) => (/^[aeiou]/i.test(title.trim()) ? "an" : "a");

/** The agent's persona, built from its title, expertise, goal and role (Virtual Lab's wording). */
export function systemPromptFor(agent: Agent): string {
  return (
    `You are ${article(agent.title)} ${clean(agent.title)}. ` +
    `Your expertise is in ${clean(agent.expertise)}. ` +
    `Your goal is to ${clean(agent.goal)}. ` +
    `Your role is to ${clean(agent.role)}.`
  );
}

/** How the meeting's conversation is laid out, so the model reads the labels and does not copy them. */
const MEETING_ETIQUETTE =
  "You are taking part in a research meeting. Contributions by the other participants appear in the conversation " +
  "labelled with their title in square brackets; contributions labelled [Human participant: …] come from people " +
  "attending the meeting, and you should take them into account. Reply only as yourself, in your own words, " +
  "without a name label and without writing lines for other participants.";

function numbered(items: readonly string[]): string {
  return items.map((x, i) => `${i + 1}. ${x}`).join("\n");
}

function joinNames(names: readonly string[]): string {
  if (names.length <= 1) return names.join("");
  return `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`;
}

/** The blocks every meeting type shares: earlier summaries, contexts, agenda, questions, rules. */
function agendaBlocks(config: MeetingConfig): string[] {
  const blocks: string[] = [];
  if (config.summaries.length > 0) {
    blocks.push(
      "Here are summaries of previous meetings to build on:\n\n" +
        config.summaries.map((s, i) => `[begin summary ${i + 1}]\n\n${s.trim()}\n\n[end summary ${i + 1}]`).join("\n\n"),
    );
  }
  if (config.contexts.length > 0) {
    blocks.push(
      "Here is context for this meeting:\n\n" +
        config.contexts.map((c, i) => `[begin context ${i + 1}]\n\n${c.trim()}\n\n[end context ${i + 1}]`).join("\n\n"),
    );
  }
  blocks.push(`Here is the agenda for the meeting:\n\n${config.agenda.trim()}`);
  if (config.agendaQuestions.length > 0)
    blocks.push(`Here are the agenda questions that must be answered:\n\n${numbered(config.agendaQuestions)}`);
  if (config.agendaRules.length > 0) blocks.push(`Here are the agenda rules that must be followed:\n\n${numbered(config.agendaRules)}`);
  return blocks;
}

/** The meeting brief: the opening of the conversation every turn of the meeting sees. */
export function meetingBrief(config: MeetingConfig): string {
  const critic = criticOf(config);
  if (config.type === "team") {
    const lead = config.lead.title;
    const attendees = config.members.map((m) => m.title);
    const blocks = [
      `This is the beginning of a team meeting to discuss your research project. This is a meeting with the team lead, ${lead}, ` +
        `and the following team members: ${joinNames(attendees)}.` +
        (critic ? ` ${critic.title} also attends and critiques the discussion at the end of every round.` : ""),
      ...agendaBlocks(config),
      `${lead} will convene the meeting. Then, each team member will provide their thoughts on the discussion one by one in the order above` +
        (critic ? `, followed by ${critic.title}` : "") +
        `. After all team members have given their input, ${lead} will synthesize the points raised by each team member, ` +
        "make decisions regarding the agenda based on team member input, and ask follow-up questions to gather more information " +
        `and feedback about how to better address the agenda. This will continue for ${config.rounds} ${config.rounds === 1 ? "round" : "rounds"}. ` +
        `Once the discussion is complete, ${lead} will summarize the meeting in detail for future discussions, provide a specific ` +
        "recommendation regarding the agenda, and answer the agenda questions (if any) based on the discussion while strictly " +
        "adhering to the agenda rules (if any).",
    ];
    return blocks.join("\n\n");
  }
  const member = config.member.title;
  const intro = config.merge
    ? `This is the beginning of an individual meeting with ${member} to merge the results of ${config.merge.sources.length} ` +
      "separate meetings that discussed the same agenda."
    : `This is the beginning of an individual meeting with ${member} to discuss your research project.`;
  const blocks = [intro + (critic ? ` ${critic.title} attends to critique ${member}'s answers.` : ""), ...agendaBlocks(config)];
  if (config.merge) {
    blocks.push(
      "Here are the summaries of the separate meetings to merge:\n\n" +
        config.merge.sources.map((s) => `[begin ${s.label}]\n\n${s.text.trim()}\n\n[end ${s.label}]`).join("\n\n"),
    );
  }
  return blocks.join("\n\n");
}

/** The fixed summary structure the closing turns (and merges) must follow. */
export function summaryFormat(config: MeetingConfig, options: { provenance?: boolean; individual?: boolean } = {}): string {
  const critic = criticOf(config);
  const inputGuide = options.individual
    ? critic
      ? `Summarize the important points of ${critic.title}'s feedback across the rounds and how you addressed each of them.`
      : "Summarize the important points you found when reviewing and refining your own answer across the rounds."
    : "Summarize all of the important points raised by each team member. This is to ensure that key details are preserved for future meetings.";
  const answers =
    config.agendaQuestions.length > 0
      ? "For each agenda question, in order, write:\n\n" +
        config.agendaQuestions
          .map(
            (q, i) =>
              `#### Question ${i + 1}: ${q}\n\nAnswer: A specific answer to the question based on your recommendation above.\n\nJustification: A brief explanation of why you provided that answer.`,
          )
          .join("\n\n")
      : 'There are no agenda questions: write "No agenda questions."';
  const parts = [
    "### Agenda\n\nRestate the agenda in your own words.",
    `### Team Member Input\n\n${inputGuide}`,
    "### Recommendation\n\nProvide your expert recommendation regarding the agenda. Consider the input you received, but use your " +
      "expertise to make a final decision: you must choose one option among those discussed, even if it conflicts with some of " +
      "the input, as long as it is well justified. Make the recommendation clear, specific and actionable, and justify it.",
    `### Answers\n\n${answers}`,
    "### Next Steps\n\nOutline the next steps that the team should take based on the discussion.",
  ];
  if (options.provenance) {
    parts.push(
      "### Provenance\n\nFor each part of your answer, say which summary (by its label, e.g. [Summary 2]) it came from and why " +
        "you chose it over the alternatives. Also tag borrowed points inline with the label in square brackets.",
    );
  }
  return `Use exactly this structure, with these Markdown headings in this order:\n\n${parts.join("\n\n")}`;
}

function rulesReminder(config: MeetingConfig): string {
  return config.agendaRules.length > 0 ? " Strictly adhere to the agenda rules." : "";
}

/** The instruction for one turn, addressed to its speaker (Virtual Lab's prompts, extended). */
export function turnInstruction(config: MeetingConfig, turn: Turn): string {
  const me = turn.agent.title;
  const critic = criticOf(config);
  const lead = leadOf(config).title;
  const of = `round ${turn.round} of ${turn.rounds}`;
  switch (turn.kind) {
    case "lead_opening":
      return `${me}, please provide your initial thoughts on the agenda as well as any questions you have to guide the discussion among the team members.`;
    case "member":
      return (
        `${me}, please provide your thoughts on the discussion (${of}). If you do not have anything new or relevant to add, ` +
        'you may say "pass". Remember that you can and should (politely) disagree with other team members if you have a different perspective.' +
        rulesReminder(config)
      );
    case "lead_synthesis":
      return (
        `This concludes round ${turn.round - 1} of ${turn.rounds} of discussion. ${me}, please synthesize the points raised by each ` +
        "team member, make decisions regarding the agenda based on team member input, and ask follow-up questions to gather more " +
        "information and feedback about how to better address the agenda."
      );
    case "lead_summary":
      return (
        `${me}, please summarize the meeting in detail for future discussions, provide a specific recommendation regarding the agenda, ` +
        "and answer the agenda questions (if any) based on the discussion while strictly adhering to the agenda rules (if any).\n\n" +
        summaryFormat(config)
      );
    case "critic":
      return config.type === "team"
        ? `${me}, please critique the discussion so far (${of}). Identify errors, unsupported claims, risks and missing ` +
            `considerations in what ${lead} and the team members have said, and suggest improvements that directly address the ` +
            "agenda and any agenda questions. Prioritize simple solutions over unnecessarily complex ones, but demand more detail " +
            "where detail is lacking. Additionally, validate whether the proposals strictly adhere to the agenda and any agenda rules " +
            'and provide corrective feedback if they do not. Only provide feedback; do not write the answer yourself. If you have nothing new to add, you may say "pass".'
        : `${me}, please critique ${lead}'s most recent answer. In your critique, suggest improvements that directly address the ` +
            "agenda and any agenda questions. Prioritize simple solutions over unnecessarily complex ones, but demand more detail " +
            "where detail is lacking. Additionally, validate whether the answer strictly adheres to the agenda and any agenda " +
            "questions and rules, and provide corrective feedback if it does not. Only provide feedback; do not implement the answer yourself.";
    case "individual_answer":
      if (turn.round === 1) {
        return `${me}, please provide your response to the agenda${config.agendaQuestions.length > 0 ? ", answering each agenda question" : ""}.${rulesReminder(config)}`;
      }
      return critic
        ? `${me}, please modify your answer to address ${critic.title}'s most recent feedback. Remember that your ultimate goal is to make improvements that better address the agenda.${rulesReminder(config)}`
        : `${me}, please review your previous answer critically (${of}): look for errors, gaps, unsupported claims and unclear points, ` +
            `then give an improved answer that better addresses the agenda and the agenda questions.${rulesReminder(config)}`;
    case "final_answer":
      return (
        `${me}, please give your final answer to the agenda` +
        (critic ? `, addressing ${critic.title}'s most recent feedback` : ", taking your review in the previous rounds into account") +
        `.${rulesReminder(config)}\n\n${summaryFormat(config, { individual: true })}`
      );
    case "merge": {
      const first =
        turn.round === 1
          ? `${me}, please read the summaries of the separate meetings above. Based on them, provide a single answer that merges the ` +
            "best components of each individual answer, and explain which components of your answer came from which summary and why you chose them."
          : turn.final
            ? `${me}, please give your final merged answer${critic ? `, addressing ${critic.title}'s most recent feedback` : ""}.`
            : critic
              ? `${me}, please modify your merged answer to address ${critic.title}'s most recent feedback, keeping track of where each part came from.`
              : `${me}, please review your merged answer critically (${of}) and improve it, keeping track of where each part came from.`;
      return `${first}${rulesReminder(config)}\n\n${summaryFormat(config, { provenance: true, individual: true })}`;
    }
  }
}

interface Part {
  role: "user" | "assistant";
  text: string;
}

/** A speaker label cannot contain what would end or fake one (brackets, line breaks). */
const labelSafe = (s: string) => s.replace(/[[\]\r\n]+/g, " ").trim();

function pushPart(messages: PromptMessage[], part: Part): void {
  const last = messages[messages.length - 1];
  if (last && last.role === part.role) last.content = `${last.content}\n\n${part.text}`;
  else messages.push({ role: part.role, content: part.text });
}

/**
 * The system prompt and conversation for `turn`. `transcriptSoFar` holds every finished turn and
 * interjection before it, in order (for a branch, including the inherited ones).
 */
export function buildMessages(config: MeetingConfig, turn: Turn, transcriptSoFar: readonly TranscriptEntry[]): BuiltPrompt {
  const me = turn.agent.title.trim().toLowerCase();
  const messages: PromptMessage[] = [];
  pushPart(messages, { role: "user", text: meetingBrief(config) });
  let round = 0;
  for (const entry of transcriptSoFar) {
    if (entry.type === "interjection") {
      pushPart(messages, { role: "user", text: `[Human participant: ${labelSafe(entry.name)}]\n${entry.text.trim()}` });
      continue;
    }
    if (entry.round !== round) {
      round = entry.round;
      const label = round > turn.rounds ? "Closing" : `Round ${round} of ${turn.rounds}`;
      pushPart(messages, { role: "user", text: `--- ${label} ---` });
    }
    const text = entry.text.trim() || "(no response)";
    if (entry.speaker.trim().toLowerCase() === me) pushPart(messages, { role: "assistant", text });
    else pushPart(messages, { role: "user", text: `[${labelSafe(entry.speaker)}]\n${text}` });
  }
  if (turn.round !== round && turn.round <= turn.rounds) {
    pushPart(messages, { role: "user", text: `--- Round ${turn.round} of ${turn.rounds} ---` });
  }
  pushPart(messages, { role: "user", text: turnInstruction(config, turn) });
  return { system: `${systemPromptFor(turn.agent)}\n\n${MEETING_ETIQUETTE}`, messages };
}

/** Characters of prompt text in a request: the size the budget check estimates tokens from. */
export function promptChars(prompt: BuiltPrompt): number {
  return prompt.messages.reduce((n, m) => n + m.content.length, prompt.system.length);
}
