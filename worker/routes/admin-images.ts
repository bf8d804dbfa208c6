/**
 * /api/v1/admin/images: the VM image catalog in R2 (binding IMAGES). Uploads are resumable R2
 * multipart uploads through the Worker: create → PUT parts by number (a client that lost its
 * place lists the parts already stored and sends the rest) → complete; DELETE aborts an upload
 * or removes an image. Bridges download images through short-lived signed links (images.ts).
 * Administrators only.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { and, asc, desc, eq } from "drizzle-orm";
import { desktopTemplates, vmImageParts, vmImages } from "../../migrations/schema.ts";
import { getDb } from "../db/client.ts";
import { ApiError } from "../lib/errors.ts";
import { createRouter, errorResponses, IdParam, iso, isoRequired, jsonBody, jsonResponse, TimestampSchema } from "../lib/router.ts";
import { signImageLink } from "../lib/signed-links.ts";
import { auditActor, requireAdmin } from "../middleware/auth.ts";
import { auditInsert } from "../services/audit.ts";
import { publicOrigin } from "../services/desktop-sessions.ts";

const tags = ["admin", "images"];

export const IMAGE_EXTENSIONS = [".qcow2", ".vhd", ".vmdk", ".iso", ".img", ".raw"] as const;
/** R2's floor for every part but the last. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;
/** Below the Workers request-body ceiling (100 MB), with room for headers. */
export const MAX_PART_BYTES = 95 * 1024 * 1024;
const MAX_PARTS = 10_000;
/** The path of part uploads, which are exempt from the JSON body limit (app.ts). */
export const IMAGE_PART_PATH = /^\/api\/v1\/admin\/images\/[^/]+\/parts\/[^/]+$/;

const FILENAME = /^[A-Za-z0-9][A-Za-z0-9._ -]{0,200}$/;

const ImageSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    filename: z.string(),
    format: z.string(),
    sizeBytes: z.number(),
    status: z.enum(["uploading", "ready"]),
    createdBy: z.string().nullable(),
    createdAt: TimestampSchema,
    completedAt: TimestampSchema.nullable(),
  })
  .openapi("VmImage");
const PartSchema = z
  .object({ partNumber: z.number().int(), etag: z.string(), sizeBytes: z.number().int(), uploadedAt: TimestampSchema })
  .openapi("VmImagePart");

type ImageRow = typeof vmImages.$inferSelect;
function imageView(i: ImageRow): z.infer<typeof ImageSchema> {
  return {
    id: i.id,
    name: i.name,
    filename: i.filename,
    format: i.filename.slice(i.filename.lastIndexOf(".") + 1).toLowerCase(),
    sizeBytes: i.sizeBytes,
    status: i.status,
    createdBy: i.createdBy,
    createdAt: isoRequired(i.createdAt),
    completedAt: iso(i.completedAt),
  };
}

const ImageParams = z.object({ imageId: IdParam.openapi({ param: { name: "imageId", in: "path" } }) });
const PartParams = ImageParams.extend({
  partNumber: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_PARTS)
    .openapi({ param: { name: "partNumber", in: "path" }, example: 1 }),
});

const listImages = createRoute({
  method: "get",
  path: "/images",
  tags,
  summary: "The VM image catalog",
  responses: { 200: jsonResponse(z.object({ images: z.array(ImageSchema) }), "Images"), ...errorResponses },
});
const createImage = createRoute({
  method: "post",
  path: "/images",
  tags,
  summary: `Start uploading a VM disk image (${IMAGE_EXTENSIONS.join(", ")})`,
  request: {
    ...jsonBody(
      z.object({
        name: z.string().trim().min(1).max(100),
        filename: z
          .string()
          .trim()
          .regex(FILENAME, "letters, digits, '.', '_', '-' and spaces")
          .refine(
            (f) => IMAGE_EXTENSIONS.some((ext) => f.toLowerCase().endsWith(ext)),
            `the file must be one of ${IMAGE_EXTENSIONS.join(", ")}`,
          ),
      }),
    ),
  },
  responses: {
    201: jsonResponse(
      z.object({ image: ImageSchema, minPartBytes: z.number().int(), maxPartBytes: z.number().int(), maxParts: z.number().int() }),
      "Upload started: PUT the parts, then complete",
    ),
    ...errorResponses,
  },
});
const listParts = createRoute({
  method: "get",
  path: "/images/{imageId}/parts",
  tags,
  summary: "The parts stored so far (resume an interrupted upload by sending the others)",
  request: { params: ImageParams },
  responses: { 200: jsonResponse(z.object({ parts: z.array(PartSchema), uploadedBytes: z.number() }), "Parts"), ...errorResponses },
});
const putPart = createRoute({
  method: "put",
  path: "/images/{imageId}/parts/{partNumber}",
  tags,
  summary: `Upload one part (raw bytes, Content-Length required; every part but the last ≥ 5 MiB and all of one size; ≤ 95 MiB). Sending a part again replaces it.`,
  request: {
    params: PartParams,
    body: { required: true, content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } } },
  },
  responses: { 200: jsonResponse(z.object({ part: PartSchema }), "Stored"), ...errorResponses },
});
const completeImage = createRoute({
  method: "post",
  path: "/images/{imageId}/complete",
  tags,
  summary: "Assemble the stored parts into the image; it is then ready for VM templates",
  request: { params: ImageParams },
  responses: { 200: jsonResponse(z.object({ image: ImageSchema }), "Ready"), ...errorResponses },
});
const deleteImage = createRoute({
  method: "delete",
  path: "/images/{imageId}",
  tags,
  summary: "Abort an upload, or delete a ready image (409 IMAGE_IN_USE while a template names it)",
  request: { params: ImageParams },
  responses: { 204: { description: "Deleted" }, ...errorResponses },
});
const linkImage = createRoute({
  method: "post",
  path: "/images/{imageId}/link",
  tags,
  summary: "A short-lived signed download link (what bridges get in start commands)",
  request: { params: ImageParams },
  responses: { 200: jsonResponse(z.object({ url: z.string(), expiresAt: TimestampSchema }), "Link"), ...errorResponses },
});

async function loadImage(env: Env, imageId: string): Promise<ImageRow> {
  const [image] = await getDb(env).select().from(vmImages).where(eq(vmImages.id, imageId));
  if (!image) throw new ApiError("IMAGE_NOT_FOUND", "No such VM image.");
  return image;
}

function uploadOf(env: Env, image: ImageRow): R2MultipartUpload {
  if (image.status !== "uploading" || !image.uploadId) throw new ApiError("UPLOAD_NOT_IN_PROGRESS", "This image is not being uploaded.");
  return env.IMAGES.resumeMultipartUpload(image.objectKey, image.uploadId);
}

function r2Message(e: unknown): string {
  return e instanceof Error ? e.message.replace(/^[a-zA-Z]+:\s*/, "") : String(e);
}

export const adminImageRoutes = createRouter()
  .openapi(listImages, async (c) => {
    requireAdmin(c);
    const rows = await getDb(c.env).select().from(vmImages).orderBy(desc(vmImages.createdAt));
    return c.json({ images: rows.map(imageView) }, 200);
  })
  .openapi(createImage, async (c) => {
    const auth = requireAdmin(c);
    const body = c.req.valid("json");
    const id = crypto.randomUUID();
    const objectKey = `images/${id}/${body.filename.replace(/ /g, "_")}`;
    const upload = await c.env.IMAGES.createMultipartUpload(objectKey, {
      httpMetadata: { contentType: "application/octet-stream", contentDisposition: `attachment; filename="${body.filename}"` },
      customMetadata: { imageId: id },
    });
    const db = getDb(c.env);
    const [image] = await db
      .insert(vmImages)
      .values({ id, name: body.name, filename: body.filename, objectKey, uploadId: upload.uploadId, createdBy: auth.userId })
      .returning();
    if (!image) throw new Error("image insert returned no row");
    await auditInsert(db, {
      ...auditActor(c, auth),
      action: "admin.image.create",
      targetType: "image",
      targetId: id,
      detail: { name: body.name, filename: body.filename },
    });
    return c.json({ image: imageView(image), minPartBytes: MIN_PART_BYTES, maxPartBytes: MAX_PART_BYTES, maxParts: MAX_PARTS }, 201);
  })
  .openapi(listParts, async (c) => {
    requireAdmin(c);
    const image = await loadImage(c.env, c.req.valid("param").imageId);
    const rows = await getDb(c.env)
      .select()
      .from(vmImageParts)
      .where(eq(vmImageParts.imageId, image.id))
      .orderBy(asc(vmImageParts.partNumber));
    const parts = rows.map((p) => ({
      partNumber: p.partNumber,
      etag: p.etag,
      sizeBytes: p.sizeBytes,
      uploadedAt: isoRequired(p.uploadedAt),
    }));
    return c.json({ parts, uploadedBytes: parts.reduce((n, p) => n + p.sizeBytes, 0) }, 200);
  })
  .openapi(putPart, async (c) => {
    requireAdmin(c);
    const { imageId, partNumber } = c.req.valid("param");
    const length = Number(c.req.header("Content-Length"));
    if (!c.req.header("Content-Length") || !Number.isSafeInteger(length) || length < 0)
      throw new ApiError("LENGTH_REQUIRED", "Send the part with a Content-Length.");
    if (length === 0) throw new ApiError("UPLOAD_INVALID", "A part cannot be empty.");
    if (length > MAX_PART_BYTES) throw new ApiError("PAYLOAD_TOO_LARGE", `Parts are limited to ${MAX_PART_BYTES} bytes.`);
    const image = await loadImage(c.env, imageId);
    const upload = uploadOf(c.env, image);
    const body = c.req.raw.body;
    if (!body) throw new ApiError("UPLOAD_INVALID", "The part has no body.");
    // R2 streams only bodies of known length; this also refuses a body that is not what Content-Length said.
    const { readable, writable } = new FixedLengthStream(length);
    const piping = body.pipeTo(writable).catch(() => undefined);
    let uploaded: R2UploadedPart;
    try {
      uploaded = await upload.uploadPart(partNumber, readable);
    } catch (e: unknown) {
      throw new ApiError("UPLOAD_INVALID", `The part was not stored: ${r2Message(e)}`, { cause: e });
    } finally {
      await piping;
    }
    const row = { imageId, partNumber, etag: uploaded.etag, sizeBytes: length, uploadedAt: new Date() };
    await getDb(c.env)
      .insert(vmImageParts)
      .values(row)
      .onConflictDoUpdate({
        target: [vmImageParts.imageId, vmImageParts.partNumber],
        set: { etag: row.etag, sizeBytes: row.sizeBytes, uploadedAt: row.uploadedAt },
      });
    return c.json({ part: { partNumber, etag: uploaded.etag, sizeBytes: length, uploadedAt: row.uploadedAt.toISOString() } }, 200);
  })
  .openapi(completeImage, async (c) => {
    const auth = requireAdmin(c);
    const image = await loadImage(c.env, c.req.valid("param").imageId);
    const upload = uploadOf(c.env, image);
    const db = getDb(c.env);
    const parts = await db.select().from(vmImageParts).where(eq(vmImageParts.imageId, image.id)).orderBy(asc(vmImageParts.partNumber));
    if (parts.length === 0) throw new ApiError("UPLOAD_INVALID", "No parts were uploaded.");
    const gap = parts.findIndex((p, i) => p.partNumber !== i + 1);
    if (gap >= 0) throw new ApiError("UPLOAD_INVALID", `Part ${gap + 1} is missing.`);
    let object: R2Object;
    try {
      object = await upload.complete(parts.map((p) => ({ partNumber: p.partNumber, etag: p.etag })));
    } catch (e: unknown) {
      throw new ApiError(
        "UPLOAD_INVALID",
        `The upload could not be completed (every part but the last must be at least 5 MiB, all of one size): ${r2Message(e)}`,
        { cause: e },
      );
    }
    const [ready] = await db
      .update(vmImages)
      .set({ status: "ready", sizeBytes: object.size, uploadId: null, completedAt: new Date() })
      .where(and(eq(vmImages.id, image.id), eq(vmImages.status, "uploading")))
      .returning();
    await db.delete(vmImageParts).where(eq(vmImageParts.imageId, image.id));
    await auditInsert(db, {
      ...auditActor(c, auth),
      action: "admin.image.complete",
      targetType: "image",
      targetId: image.id,
      detail: { sizeBytes: object.size },
    });
    return c.json({ image: imageView(ready ?? (await loadImage(c.env, image.id))) }, 200);
  })
  .openapi(deleteImage, async (c) => {
    const auth = requireAdmin(c);
    const image = await loadImage(c.env, c.req.valid("param").imageId);
    const db = getDb(c.env);
    const [user] = await db
      .select({ name: desktopTemplates.name })
      .from(desktopTemplates)
      .where(and(eq(desktopTemplates.kind, "vm"), eq(desktopTemplates.image, image.id)))
      .limit(1);
    if (user) throw new ApiError("IMAGE_IN_USE", `The template '${user.name}' uses this image.`);
    if (image.status === "uploading" && image.uploadId) {
      await c.env.IMAGES.resumeMultipartUpload(image.objectKey, image.uploadId)
        .abort()
        .catch((e: unknown) => console.warn("aborting an image upload failed", image.id, r2Message(e)));
    } else {
      await c.env.IMAGES.delete(image.objectKey);
    }
    await db.delete(vmImages).where(eq(vmImages.id, image.id));
    await auditInsert(db, {
      ...auditActor(c, auth),
      action: "admin.image.delete",
      targetType: "image",
      targetId: image.id,
      detail: { name: image.name, status: image.status },
    });
    return c.body(null, 204);
  })
  .openapi(linkImage, async (c) => {
    requireAdmin(c);
    const image = await loadImage(c.env, c.req.valid("param").imageId);
    if (image.status !== "ready") throw new ApiError("IMAGE_NOT_READY", "The image is still uploading.");
    return c.json(await signImageLink(c.env.JWT_SECRET, publicOrigin(c), image.id), 200);
  });
