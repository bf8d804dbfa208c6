/**
 * GET /api/v1/images/{id}/download: a VM image streamed from R2 to whoever holds a valid signed
 * link (bridges, from their start commands). No account: the HMAC signature and its expiry are
 * the credential (lib/signed-links.ts). Ranges are honoured so a bridge can resume a download.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { eq } from "drizzle-orm";
import { vmImages } from "../../migrations/schema.ts";
import { getDb } from "../db/client.ts";
import { ApiError } from "../lib/errors.ts";
import { createRouter, errorResponses, IdParam } from "../lib/router.ts";
import { verifyImageLink } from "../lib/signed-links.ts";

const download = createRoute({
  method: "get",
  path: "/images/{imageId}/download",
  tags: ["images"],
  summary: "Download a VM image through a signed link (403 LINK_INVALID / LINK_EXPIRED); supports Range",
  request: {
    params: z.object({ imageId: IdParam.openapi({ param: { name: "imageId", in: "path" } }) }),
    query: z.object({ expires: z.coerce.number().int().min(0).max(1e11), sig: z.string().min(1).max(200) }),
  },
  responses: { 200: { description: "The image bytes" }, 206: { description: "A range of the image" }, ...errorResponses },
});

export const imageRoutes = createRouter().openapi(download, async (c) => {
  const { imageId } = c.req.valid("param");
  const { expires, sig } = c.req.valid("query");
  const verdict = await verifyImageLink(c.env.JWT_SECRET, imageId, expires, sig);
  if (verdict === "invalid") throw new ApiError("LINK_INVALID", "This download link is not valid.");
  if (verdict === "expired") throw new ApiError("LINK_EXPIRED", "This download link has expired; ask for a new one.");
  const [image] = await getDb(c.env).select().from(vmImages).where(eq(vmImages.id, imageId));
  if (image?.status !== "ready") throw new ApiError("IMAGE_NOT_FOUND", "No such VM image.");
  const object = await c.env.IMAGES.get(image.objectKey, { range: c.req.raw.headers, onlyIf: c.req.raw.headers });
  if (!object) throw new ApiError("IMAGE_NOT_FOUND", "The image's bytes are missing.");
  const headers = new Headers();
  object.writeHttpMetadata(headers);
  headers.set("ETag", object.httpEtag);
  headers.set("Accept-Ranges", "bytes");
  headers.set("Cache-Control", "private, no-store");
  if (!("body" in object)) return new Response(null, { status: 304, headers });
  const range = object.range as { offset?: number; length?: number } | undefined;
  if (range && (range.offset !== undefined || range.length !== undefined) && c.req.header("Range")) {
    const offset = range.offset ?? 0;
    const length = range.length ?? object.size - offset;
    headers.set("Content-Range", `bytes ${offset}-${offset + length - 1}/${object.size}`);
    headers.set("Content-Length", String(length));
    return new Response(object.body, { status: 206, headers });
  }
  headers.set("Content-Length", String(object.size));
  return new Response(object.body, { status: 200, headers });
});
