/**
 * Uploads a VM disk image as a resumable R2 multipart upload: create the image, PUT its parts
 * (raw bytes; XMLHttpRequest because fetch reports no upload progress), complete. A failed part
 * is retried; an interrupted upload resumes from the parts the server already holds, so only
 * the missing bytes go up again. Progress counts bytes the server has stored.
 */
import type { VmImage, VmImagePart, VmImageUpload } from "./desktop-types.ts";
import { ApiRequestError, apiRequest, CSRF_COOKIE, CSRF_HEADER, readCookie, refreshSession } from "./http.ts";

const BASE = "/api/v1/admin/images";
/** Every part but the last has this size (R2 needs ≥ 5 MiB and one size for all but the last). */
const PREFERRED_PART_BYTES = 8 * 1024 * 1024;
const PART_ATTEMPTS = 4;
/** The API's part limits (also in its answer to creating an upload). */
const API_LIMITS = { minPartBytes: 5 * 1024 * 1024, maxPartBytes: 95 * 1024 * 1024, maxParts: 10_000 };

export interface UploadProgress {
  /** bytes stored so far (including parts stored before a resume) */
  loaded: number;
  total: number;
}

export interface UploadImageOptions {
  file: Blob;
  /** the image's display name and file name (new uploads only) */
  name: string;
  filename: string;
  /** resume this upload instead of starting one */
  resumeImageId?: string;
  onProgress(progress: UploadProgress): void;
  /** the image exists (before its bytes do): lets a page offer to resume it later */
  onCreated?(image: VmImage): void;
  signal?: AbortSignal;
}

/** The part size for a file: the preferred size unless that would need more parts than allowed. */
export function partSizeFor(totalBytes: number, limits: { minPartBytes: number; maxPartBytes: number; maxParts: number }): number {
  const needed = Math.ceil(totalBytes / limits.maxParts);
  return Math.min(limits.maxPartBytes, Math.max(limits.minPartBytes, PREFERRED_PART_BYTES, needed));
}

export async function uploadImage(options: UploadImageOptions): Promise<VmImage> {
  const { file } = options;
  let imageId: string;
  let partBytes: number;
  let stored = new Map<number, number>();
  if (options.resumeImageId) {
    imageId = options.resumeImageId;
    const { parts } = await apiRequest<{ parts: VmImagePart[] }>("GET", `${BASE}/${encodeURIComponent(imageId)}/parts`);
    stored = new Map(parts.map((p) => [p.partNumber, p.sizeBytes]));
    // The part size depends only on the file's size, so a resume cuts the file as the start did.
    partBytes = partSizeFor(file.size, API_LIMITS);
  } else {
    const created = await apiRequest<VmImageUpload>("POST", BASE, { body: { name: options.name, filename: options.filename } });
    imageId = created.image.id;
    partBytes = partSizeFor(file.size, created);
    options.onCreated?.(created.image);
  }
  const count = Math.max(1, Math.ceil(file.size / partBytes));
  const sizeOf = (n: number) => Math.min(partBytes, file.size - (n - 1) * partBytes);
  let done = 0;
  for (let n = 1; n <= count; n++) if (stored.get(n) === sizeOf(n)) done += sizeOf(n);
  options.onProgress({ loaded: done, total: file.size });
  for (let n = 1; n <= count; n++) {
    if (stored.get(n) === sizeOf(n)) continue;
    const start = (n - 1) * partBytes;
    const chunk = file.slice(start, start + sizeOf(n));
    const base = done;
    await withRetries(() =>
      putPart(imageId, n, chunk, (loaded) => options.onProgress({ loaded: base + loaded, total: file.size }), options.signal),
    );
    done += chunk.size;
    options.onProgress({ loaded: done, total: file.size });
  }
  return (await apiRequest<{ image: VmImage }>("POST", `${BASE}/${encodeURIComponent(imageId)}/complete`)).image;
}

async function withRetries(fn: () => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e: unknown) {
      const retriable = e instanceof ApiRequestError && (e.status === 0 || e.status >= 500 || e.status === 429);
      if (!retriable || attempt >= PART_ATTEMPTS) throw e;
      await new Promise((r) => setTimeout(r, 500 * 2 ** attempt));
    }
  }
}

/** PUTs one part, refreshing an expired session once. */
async function putPart(
  imageId: string,
  partNumber: number,
  body: Blob,
  onLoaded: (n: number) => void,
  signal?: AbortSignal,
): Promise<void> {
  const first = await sendPart(imageId, partNumber, body, onLoaded, signal);
  if (first.status === 401 && (await refreshSession())) {
    const again = await sendPart(imageId, partNumber, body, onLoaded, signal);
    if (again.status >= 200 && again.status < 300) return;
    throw errorOf(again);
  }
  if (first.status >= 200 && first.status < 300) return;
  throw errorOf(first);
}

interface PartAnswer {
  status: number;
  text: string;
}

function sendPart(
  imageId: string,
  partNumber: number,
  body: Blob,
  onLoaded: (n: number) => void,
  signal?: AbortSignal,
): Promise<PartAnswer> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", `${BASE}/${encodeURIComponent(imageId)}/parts/${partNumber}`);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.setRequestHeader("Accept", "application/json");
    const csrf = readCookie(CSRF_COOKIE);
    if (csrf) xhr.setRequestHeader(CSRF_HEADER, csrf);
    xhr.withCredentials = true;
    xhr.upload.onprogress = (e) => onLoaded(e.loaded);
    xhr.onload = () => resolve({ status: xhr.status, text: xhr.responseText });
    xhr.onerror = () => resolve({ status: 0, text: "" });
    xhr.onabort = () => reject(new DOMException("The upload was cancelled.", "AbortError"));
    signal?.addEventListener("abort", () => xhr.abort(), { once: true });
    xhr.send(body);
  });
}

function errorOf(answer: PartAnswer): ApiRequestError {
  if (answer.status === 0)
    return new ApiRequestError("NETWORK_ERROR", "Could not reach the server. Check your connection and try again.", 0);
  try {
    const json: unknown = JSON.parse(answer.text);
    const error = (json as { error?: { code?: unknown; message?: unknown } }).error;
    if (typeof error?.code === "string" && typeof error.message === "string")
      return new ApiRequestError(error.code, error.message, answer.status);
  } catch {
    // not JSON: described below
  }
  return new ApiRequestError("BAD_RESPONSE", `The part upload failed (HTTP ${answer.status}).`, answer.status);
}
