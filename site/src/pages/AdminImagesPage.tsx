/**
 * /admin/images: the VM image catalog. Uploads go up in parts with a progress bar
 * (api/image-upload.ts); an upload that was interrupted stays listed as "uploading" and resumes
 * from its stored parts when the same file is chosen again. Delete aborts an upload or removes
 * an image (not while a template uses it).
 */
import { createResource, createSignal, Show } from "solid-js";
import { deleteImage, listImages } from "../api/admin-desktops-api.ts";
import type { VmImage } from "../api/desktop-types.ts";
import { uploadImage } from "../api/image-upload.ts";
import { ActionFeedback } from "../components/ActionFeedback.tsx";
import { ConfirmButton } from "../components/ConfirmButton.tsx";
import { DataTable } from "../components/DataTable.tsx";
import { LoadState } from "../components/LoadState.tsx";
import { formatDateTime } from "../lib/format.ts";
import { usePageTitle } from "../lib/page-title.ts";

const EXTENSIONS = [".qcow2", ".vhd", ".vmdk", ".iso", ".img", ".raw"];

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

interface UploadState {
  name: string;
  loaded: number;
  total: number;
  done: boolean;
}

export function AdminImagesPage() {
  usePageTitle(() => "VM images");
  const [images, { mutate, refetch }] = createResource(listImages);
  const [upload, setUpload] = createSignal<UploadState>();
  const [error, setError] = createSignal<unknown>();
  const [notice, setNotice] = createSignal<string>();
  let controller: AbortController | undefined;

  const percent = () => {
    const u = upload();
    if (!u) return 0;
    return u.total === 0 ? 100 : Math.floor((u.loaded / u.total) * 100);
  };
  const uploading = () => upload() !== undefined && !upload()?.done;

  async function run(file: File, name: string, resumeImageId?: string) {
    setError(undefined);
    setNotice(undefined);
    controller = new AbortController();
    setUpload({ name, loaded: 0, total: file.size, done: false });
    try {
      const image = await uploadImage({
        file,
        name,
        filename: file.name,
        ...(resumeImageId && { resumeImageId }),
        signal: controller.signal,
        onProgress: (p) => setUpload({ name, loaded: p.loaded, total: p.total, done: false }),
        onCreated: (created) => mutate((list) => [created, ...(list ?? [])]),
      });
      setUpload({ name, loaded: file.size, total: file.size, done: true });
      mutate((list) => [image, ...(list ?? []).filter((i) => i.id !== image.id)]);
      setNotice(`Uploaded “${image.name}”.`);
    } catch (e: unknown) {
      setUpload(undefined);
      if (e instanceof DOMException && e.name === "AbortError") setNotice("Upload paused. Choose the same file under Resume to continue.");
      else setError(e);
      void refetch();
    } finally {
      controller = undefined;
    }
  }

  function onSubmit(event: SubmitEvent) {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    const file = data.get("file");
    if (!(file instanceof File) || file.size === 0) {
      setError(new Error("Choose a disk image file."));
      return;
    }
    const name = String(data.get("name") ?? "").trim() || file.name.replace(/\.[^.]+$/, "");
    form.reset();
    void run(file, name);
  }

  function onResume(image: VmImage, input: HTMLInputElement) {
    const file = input.files?.[0];
    input.value = "";
    if (!file) return;
    if (file.name !== image.filename) {
      setError(new Error(`Choose the same file as before (${image.filename}).`));
      return;
    }
    void run(file, image.name, image.id);
  }

  async function remove(image: VmImage) {
    setError(undefined);
    try {
      await deleteImage(image.id);
      mutate((list) => list?.filter((i) => i.id !== image.id));
    } catch (e: unknown) {
      setError(e);
    }
  }

  return (
    <>
      <section class="card" aria-labelledby="upload-heading">
        <h2 id="upload-heading">Upload a VM image</h2>
        <form class="form form-row" aria-label="Upload a VM image" onSubmit={onSubmit}>
          <label class="field">
            <span class="field-label">Image name</span>
            <input name="name" maxLength={100} placeholder="from the file name" />
          </label>
          <label class="field">
            <span class="field-label">Disk image file</span>
            <input name="file" type="file" accept={EXTENSIONS.join(",")} required />
          </label>
          <button type="submit" class="button button-primary" disabled={uploading()}>
            Upload
          </button>
        </form>
        <Show when={upload()}>
          {(u) => (
            <div class="upload-progress" data-testid="upload">
              <progress max="100" value={percent()} aria-label={`Uploading ${u().name}`} data-testid="upload-progress" />
              <span data-testid="upload-percent">{percent()}%</span>
              <span class="muted small">
                {formatBytes(u().loaded)} of {formatBytes(u().total)}
              </span>
              <Show when={uploading()}>
                <button type="button" class="button button-small" onClick={() => controller?.abort()}>
                  Pause
                </button>
              </Show>
            </div>
          )}
        </Show>
        <ActionFeedback error={error()} notice={notice()} />
      </section>

      <section class="card" aria-labelledby="images-heading">
        <h2 id="images-heading">Images</h2>
        <LoadState
          error={images.error}
          value={images.latest}
          errorTitle="Could not load the images."
          loadingText="Loading images…"
          emptyText="No images yet."
        >
          {(list) => (
            <DataTable items={list()} columns={["Name", "File", "Size", "Status", "Uploaded"]} actions testId="images-table">
              {(image) => (
                <tr data-testid="image-row" data-name={image.name} data-status={image.status}>
                  <td>{image.name}</td>
                  <td>
                    <code>{image.filename}</code>
                  </td>
                  <td class="nowrap">{image.status === "ready" ? formatBytes(image.sizeBytes) : "—"}</td>
                  <td>
                    <span class={image.status === "ready" ? "badge badge-active" : "badge badge-status-paused"}>{image.status}</span>
                  </td>
                  <td>{formatDateTime(image.completedAt ?? image.createdAt)}</td>
                  <td class="cell-actions">
                    <Show when={image.status === "uploading" && !uploading()}>
                      <label class="button button-small">
                        Resume…
                        <input
                          type="file"
                          class="visually-hidden"
                          aria-label={`Resume uploading ${image.name}`}
                          onChange={(e) => onResume(image, e.currentTarget)}
                        />
                      </label>
                    </Show>
                    <ConfirmButton
                      size="small"
                      label="Delete"
                      ariaLabel={`Delete ${image.name}`}
                      confirmLabel={`Yes, delete ${image.name}`}
                      disabled={uploading()}
                      onConfirm={() => remove(image)}
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
