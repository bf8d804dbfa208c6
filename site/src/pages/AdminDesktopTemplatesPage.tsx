/**
 * /admin/desktop-templates: the templates users start desktops from. One form creates a
 * template or edits the chosen one; the list enables, disables and deletes. A VM template names
 * an uploaded image (only ready ones are offered).
 */
import { createResource, createSignal, For, Show } from "solid-js";
import { createTemplate, deleteTemplate, listImages, listTemplates, updateTemplate } from "../api/admin-desktops-api.ts";
import { type DesktopTemplate, type DesktopTemplateInput, TEMPLATE_KINDS, type TemplateKind } from "../api/desktop-types.ts";
import { ActionFeedback } from "../components/ActionFeedback.tsx";
import { ConfirmButton } from "../components/ConfirmButton.tsx";
import { DataTable } from "../components/DataTable.tsx";
import { LoadState } from "../components/LoadState.tsx";
import { createAction } from "../lib/action.ts";
import { usePageTitle } from "../lib/page-title.ts";

/** `KEY=value` lines ⇄ an environment record. */
export function parseEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const trimmed = line.trim();
    if (!trimmed) continue;
    const eq = trimmed.indexOf("=");
    if (eq <= 0) env[trimmed] = "";
    else env[trimmed.slice(0, eq).trim()] = trimmed.slice(eq + 1);
  }
  return env;
}

function envText(env: Record<string, string>): string {
  return Object.entries(env)
    .map(([k, v]) => `${k}=${v}`)
    .join("\n");
}

export function AdminDesktopTemplatesPage() {
  usePageTitle(() => "Desktop templates");
  const [templates, { mutate, refetch }] = createResource(listTemplates);
  const [images] = createResource(listImages);
  // Not deduplicated: after form.reset() the same values must be written into the fields again.
  const [editing, setEditing] = createSignal<DesktopTemplate | undefined>(undefined, { equals: false });
  const [kind, setKind] = createSignal<TemplateKind>("container", { equals: false });
  const { busy, error, setError, run } = createAction();
  const [notice, setNotice] = createSignal<string>();
  let form!: HTMLFormElement;

  const readyImages = () => (images.latest ?? []).filter((i) => i.status === "ready");

  function startEdit(t: DesktopTemplate | undefined) {
    form.reset();
    setEditing(t);
    setKind(t?.kind ?? "container");
    setError(undefined);
    if (t) setNotice(undefined);
    if (t) form.scrollIntoView({ block: "start" });
  }

  async function onSubmit(event: SubmitEvent) {
    event.preventDefault();
    const data = new FormData(form);
    const text = (name: string) => String(data.get(name) ?? "").trim();
    const input: DesktopTemplateInput = {
      name: text("name"),
      description: text("description"),
      kind: kind(),
      image: text("image"),
      cpu: Number(text("cpu")),
      memoryMb: Number(text("memoryMb")),
      runtimeClass: text("runtimeClass") || null,
      env: parseEnv(String(data.get("env") ?? "")),
      persistentHome: data.get("persistentHome") === "on",
      enabled: data.get("enabled") === "on",
      adminOnly: data.get("adminOnly") === "on",
    };
    setNotice(undefined);
    await run(async () => {
      const current = editing();
      if (current) {
        const updated = await updateTemplate(current.id, input);
        mutate((list) => list?.map((t) => (t.id === updated.id ? updated : t)));
        setNotice(`Saved “${updated.name}”.`);
      } else {
        const created = await createTemplate(input);
        mutate((list) => [...(list ?? []), created].sort((a, b) => a.name.localeCompare(b.name)));
        setNotice(`Created “${created.name}”.`);
      }
      startEdit(undefined);
    });
  }

  async function toggle(t: DesktopTemplate) {
    setError(undefined);
    try {
      const updated = await updateTemplate(t.id, { enabled: !t.enabled });
      mutate((list) => list?.map((x) => (x.id === updated.id ? updated : x)));
    } catch (e: unknown) {
      setError(e);
    }
  }

  async function remove(t: DesktopTemplate) {
    setError(undefined);
    try {
      await deleteTemplate(t.id);
      mutate((list) => list?.filter((x) => x.id !== t.id));
      if (editing()?.id === t.id) startEdit(undefined);
    } catch (e: unknown) {
      setError(e);
    }
  }

  const value = <K extends keyof DesktopTemplate>(key: K, fallback: DesktopTemplate[K]) => editing()?.[key] ?? fallback;

  return (
    <>
      <section class="card" aria-labelledby="template-form-heading">
        <h2 id="template-form-heading">{editing() ? `Edit “${editing()?.name}”` : "New template"}</h2>
        <form class="form" ref={form} onSubmit={onSubmit} aria-label="Desktop template">
          <div class="form-grid">
            <label class="field">
              <span class="field-label">Name</span>
              <input name="name" required maxLength={100} value={value("name", "")} />
            </label>
            <label class="field">
              <span class="field-label">Kind</span>
              <select name="kind" value={kind()} onChange={(e) => setKind(e.currentTarget.value as TemplateKind)}>
                <For each={TEMPLATE_KINDS}>{(k) => <option value={k}>{k === "vm" ? "Virtual machine" : "Container"}</option>}</For>
              </select>
            </label>
            <Show
              when={kind() === "vm"}
              fallback={
                <label class="field">
                  <span class="field-label">Container image</span>
                  <input name="image" required maxLength={500} placeholder="ghcr.io/lab/desktop:1.2" value={value("image", "")} />
                </label>
              }
            >
              <label class="field">
                <span class="field-label">VM image</span>
                <select name="image" required value={value("image", "")}>
                  <option value="">Choose an uploaded image</option>
                  <For each={readyImages()}>{(i) => <option value={i.id}>{`${i.name} (${i.filename})`}</option>}</For>
                </select>
              </label>
            </Show>
            <label class="field">
              <span class="field-label">CPU</span>
              <input name="cpu" type="number" min="0.1" max="64" step="0.1" required value={value("cpu", 1)} />
            </label>
            <label class="field">
              <span class="field-label">Memory (MB)</span>
              <input name="memoryMb" type="number" min="128" max="262144" step="1" required value={value("memoryMb", 2048)} />
            </label>
            <label class="field">
              <span class="field-label">RuntimeClass</span>
              <input name="runtimeClass" maxLength={63} placeholder="optional, e.g. gvisor" value={value("runtimeClass", null) ?? ""} />
            </label>
          </div>
          <label class="field">
            <span class="field-label">Description</span>
            <textarea name="description" rows={2} maxLength={2000} value={value("description", "")} />
          </label>
          <label class="field">
            <span class="field-label">Environment</span>
            <textarea name="env" rows={3} placeholder="KEY=value, one per line" value={envText(value("env", {}))} />
          </label>
          <label class="check">
            <input name="persistentHome" type="checkbox" checked={value("persistentHome", false)} /> Persistent home
          </label>
          <label class="check">
            <input name="enabled" type="checkbox" checked={value("enabled", true)} /> Enabled (users can start it)
          </label>
          <label class="check">
            <input name="adminOnly" type="checkbox" checked={value("adminOnly", false)} /> Administrators only (hidden from everyone else;
            for desktops that give a shell on a host)
          </label>
          <ActionFeedback error={error()} notice={notice()} />
          <div class="form-actions">
            <button type="submit" class="button button-primary" disabled={busy()}>
              {editing() ? "Save template" : "Create template"}
            </button>
            <Show when={editing()}>
              <button type="button" class="button" onClick={() => startEdit(undefined)}>
                Cancel
              </button>
            </Show>
          </div>
        </form>
      </section>

      <section class="card" aria-labelledby="templates-list-heading">
        <h2 id="templates-list-heading">Templates</h2>
        <LoadState
          error={templates.error}
          value={templates.latest}
          errorTitle="Could not load the templates."
          loadingText="Loading templates…"
          emptyText="No templates yet."
          onRetry={refetch}
        >
          {(list) => (
            <DataTable items={list()} columns={["Name", "Kind", "Image", "Resources", "Status"]} actions testId="templates-table">
              {(t) => (
                <tr data-testid="template-row" data-name={t.name}>
                  <td>{t.name}</td>
                  <td>{t.kind}</td>
                  <td class="cell-wrap">
                    <code>{t.image}</code>
                  </td>
                  <td class="nowrap">
                    {t.cpu} CPU · {t.memoryMb} MB{t.runtimeClass ? ` · ${t.runtimeClass}` : ""}
                  </td>
                  <td>
                    <span class={t.enabled ? "badge badge-active" : "badge badge-inactive"}>{t.enabled ? "enabled" : "disabled"}</span>
                    <Show when={t.adminOnly}>
                      {" "}
                      <span class="badge" data-testid="admin-only-badge">
                        admins only
                      </span>
                    </Show>
                  </td>
                  <td class="cell-actions">
                    <button type="button" class="button button-small" onClick={() => startEdit(t)} aria-label={`Edit ${t.name}`}>
                      Edit
                    </button>
                    <button
                      type="button"
                      class="button button-small"
                      onClick={() => void toggle(t)}
                      aria-label={`${t.enabled ? "Disable" : "Enable"} ${t.name}`}
                    >
                      {t.enabled ? "Disable" : "Enable"}
                    </button>
                    <ConfirmButton
                      size="small"
                      label="Delete"
                      ariaLabel={`Delete ${t.name}`}
                      confirmLabel={`Yes, delete ${t.name}`}
                      onConfirm={() => remove(t)}
                    />
                  </td>
                </tr>
              )}
            </DataTable>
          )}
        </LoadState>
      </section>
    </>
  );
}
