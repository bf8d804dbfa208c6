/**
 * An editable list of short texts (agenda questions, rules) or long ones (contexts): one labelled
 * input per item with its own Remove button, and an Add button. Controlled by `items`.
 */
import { createUniqueId, Index, Show } from "solid-js";

export interface ListInputProps {
  legend: string;
  /** accessible name of item i (0-based), e.g. "Question 1" */
  itemLabel: (index: number) => string;
  addLabel: string;
  items: readonly string[];
  onChange: (items: string[]) => void;
  multiline?: boolean;
  maxItems: number;
  maxLength: number;
  hint?: string;
  placeholder?: string;
}

export function ListInput(props: ListInputProps) {
  const hintId = createUniqueId();
  let list: HTMLOListElement | undefined;

  function update(index: number, value: string) {
    props.onChange(props.items.map((item, i) => (i === index ? value : item)));
  }

  function remove(index: number) {
    props.onChange(props.items.filter((_, i) => i !== index));
  }

  function add() {
    props.onChange([...props.items, ""]);
    // Focus the new item once it is rendered.
    queueMicrotask(() => list?.querySelector<HTMLElement>("li:last-child :is(input, textarea)")?.focus());
  }

  return (
    <fieldset class="fieldset list-input" aria-describedby={props.hint ? hintId : undefined}>
      <legend class="field-label">{props.legend}</legend>
      <Show when={props.hint}>
        <p class="field-hint" id={hintId}>
          {props.hint}
        </p>
      </Show>
      <Show when={props.items.length > 0}>
        <ol class="list-input-items" ref={list}>
          <Index each={props.items}>
            {(item, i) => (
              <li class="list-input-item">
                <Show
                  when={props.multiline}
                  fallback={
                    <input
                      type="text"
                      aria-label={props.itemLabel(i)}
                      value={item()}
                      maxLength={props.maxLength}
                      placeholder={props.placeholder}
                      onInput={(e) => update(i, e.currentTarget.value)}
                    />
                  }
                >
                  <textarea
                    rows={4}
                    aria-label={props.itemLabel(i)}
                    value={item()}
                    maxLength={props.maxLength}
                    placeholder={props.placeholder}
                    onInput={(e) => update(i, e.currentTarget.value)}
                  />
                </Show>
                {/* Named by its content, not aria-label, so "Question 1" labels only the input. */}
                <button type="button" class="button button-small button-danger-quiet list-input-remove" onClick={() => remove(i)}>
                  Remove<span class="visually-hidden"> {props.itemLabel(i).toLowerCase()}</span>
                </button>
              </li>
            )}
          </Index>
        </ol>
      </Show>
      <div>
        <button type="button" class="button button-small" onClick={add} disabled={props.items.length >= props.maxItems}>
          {props.addLabel}
        </button>
      </div>
    </fieldset>
  );
}
