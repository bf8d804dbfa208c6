/**
 * What editors and owners can do to a live meeting over its socket: start, pause, resume,
 * cancel, and interject a message that joins the transcript at the next turn boundary. The room
 * answers with state events (or an error frame, shown here); nothing is sent while offline.
 */
import { createSignal, createUniqueId, Show } from "solid-js";
import type { MeetingClientFrame, MeetingStatus } from "../../../durable-objects/meeting/protocol.ts";
import { isFinishedStatus } from "../lib/meeting-live.ts";

export interface MeetingControlsProps {
  status: MeetingStatus;
  connected: boolean;
  /** the last refusal of a command, in words */
  commandError: string | undefined;
  send: (command: MeetingClientFrame) => boolean;
}

const INTERJECTION_MAX = 4000;

export function MeetingControls(props: MeetingControlsProps) {
  const [confirmingCancel, setConfirmingCancel] = createSignal(false);
  const [text, setText] = createSignal("");
  const [notice, setNotice] = createSignal<string>();
  const [offline, setOffline] = createSignal(false);
  const hintId = createUniqueId();
  const finished = () => isFinishedStatus(props.status);

  function send(command: MeetingClientFrame): boolean {
    const sent = props.send(command);
    setOffline(!sent);
    return sent;
  }

  function onInterject(event: SubmitEvent) {
    event.preventDefault();
    const message = text().trim();
    if (!message) return;
    if (send({ type: "interject", text: message })) {
      setText("");
      setNotice("Sent. Your message joins the transcript at the next turn boundary.");
    }
  }

  return (
    <section class="card meeting-controls" aria-labelledby="controls-heading" data-testid="meeting-controls">
      <h2 id="controls-heading" class="visually-hidden">
        Meeting controls
      </h2>
      <div class="form-actions">
        <Show when={props.status === "pending"}>
          <button type="button" class="button button-primary" disabled={!props.connected} onClick={() => send({ type: "start" })}>
            Start
          </button>
        </Show>
        <Show when={props.status === "running"}>
          <button type="button" class="button" disabled={!props.connected} onClick={() => send({ type: "pause" })}>
            Pause
          </button>
        </Show>
        <Show when={props.status === "paused"}>
          <button type="button" class="button button-primary" disabled={!props.connected} onClick={() => send({ type: "resume" })}>
            Resume
          </button>
        </Show>
        <Show when={!finished()}>
          <Show
            when={confirmingCancel()}
            fallback={
              <button
                type="button"
                class="button button-danger-quiet"
                disabled={!props.connected}
                onClick={() => setConfirmingCancel(true)}
              >
                Cancel
              </button>
            }
          >
            <span class="confirm-group">
              <span class="muted">Cancelled meetings cannot be resumed.</span>
              <button
                ref={(el) => queueMicrotask(() => el.focus())}
                type="button"
                class="button button-danger"
                disabled={!props.connected}
                onClick={() => {
                  send({ type: "cancel" });
                  setConfirmingCancel(false);
                }}
              >
                Yes, cancel the meeting
              </button>
              <button type="button" class="button" onClick={() => setConfirmingCancel(false)}>
                Keep it
              </button>
            </span>
          </Show>
        </Show>
        <Show when={finished()}>
          <span class="muted">This meeting has ended.</span>
        </Show>
      </div>

      <Show when={!finished()}>
        <form class="form interjection-form" aria-label="Interject" onSubmit={onInterject}>
          <label class="field">
            <span class="field-label">Your message to the meeting</span>
            <textarea
              name="interjection"
              rows={2}
              maxLength={INTERJECTION_MAX}
              value={text()}
              aria-describedby={hintId}
              onInput={(e) => {
                setText(e.currentTarget.value);
                setNotice(undefined);
              }}
              placeholder="e.g. Please also consider the cost of synthesis."
            />
          </label>
          <p class="field-hint" id={hintId}>
            {props.status === "pending"
              ? "Your message joins the transcript when the meeting starts, before the first speaker, and every speaker reads it."
              : props.status === "paused"
                ? "Your message joins the transcript at the next turn boundary once the meeting resumes; every later speaker reads it."
                : "The agent speaking now finishes first; your message then joins the transcript at the next turn boundary and every later speaker reads it."}
          </p>
          <div class="form-actions">
            <button type="submit" class="button" disabled={!props.connected || text().trim() === ""}>
              Interject
            </button>
            <Show when={notice()}>
              <span class="muted" role="status">
                {notice()}
              </span>
            </Show>
          </div>
        </form>
      </Show>

      <Show when={offline() && !props.connected}>
        <p class="alert alert-error" role="alert">
          Not connected to the meeting right now; nothing was sent. It reconnects by itself — try again in a moment.
        </p>
      </Show>
      <Show when={props.commandError}>
        <p class="alert alert-error" role="alert" data-testid="command-error">
          {props.commandError}
        </p>
      </Show>
    </section>
  );
}
