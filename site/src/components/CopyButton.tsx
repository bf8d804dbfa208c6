/** Copies a text (a token, a link) to the clipboard and says so. */
import { createSignal } from "solid-js";

export function CopyButton(props: { text: string; label?: string }) {
  const [copied, setCopied] = createSignal<"yes" | "no">();
  async function copy() {
    try {
      await navigator.clipboard.writeText(props.text);
      setCopied("yes");
    } catch {
      setCopied("no");
    }
    setTimeout(() => setCopied(undefined), 2_000);
  }
  return (
    <button type="button" class="button button-small" onClick={() => void copy()}>
      {copied() === "yes" ? "Copied" : copied() === "no" ? "Select and copy it" : (props.label ?? "Copy")}
    </button>
  );
}
