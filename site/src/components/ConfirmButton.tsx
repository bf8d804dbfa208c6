/**
 * A destructive action that asks first, inline: the first click turns the button into
 * "confirm / cancel" (no modal dialog, so keyboard, screen reader and test drivers all see it).
 */
import { createSignal, Show } from "solid-js";

export interface ConfirmButtonProps {
  label: string;
  /** the confirming button's text, e.g. "Yes, remove ada" */
  confirmLabel: string;
  /** accessible name of the first button when `label` alone is ambiguous */
  ariaLabel?: string;
  disabled?: boolean;
  size?: "small";
  onConfirm: () => void | Promise<void>;
}

export function ConfirmButton(props: ConfirmButtonProps) {
  const [asking, setAsking] = createSignal(false);
  const [busy, setBusy] = createSignal(false);
  async function confirm() {
    setBusy(true);
    try {
      await props.onConfirm();
    } finally {
      setBusy(false);
      setAsking(false);
    }
  }

  return (
    <Show
      when={asking()}
      fallback={
        <button
          type="button"
          class="button button-danger-quiet"
          classList={{ "button-small": props.size === "small" }}
          disabled={props.disabled}
          aria-label={props.ariaLabel}
          onClick={() => setAsking(true)}
        >
          {props.label}
        </button>
      }
    >
      <span class="confirm-group">
        <button
          ref={(el) => queueMicrotask(() => el.focus())}
          type="button"
          class="button button-danger"
          classList={{ "button-small": props.size === "small" }}
          disabled={busy()}
          onClick={confirm}
        >
          {props.confirmLabel}
        </button>
        <button
          type="button"
          class="button"
          classList={{ "button-small": props.size === "small" }}
          disabled={busy()}
          onClick={() => setAsking(false)}
        >
          Cancel
        </button>
      </span>
    </Show>
  );
}
