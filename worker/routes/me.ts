/**
 * /api/v1/me: the caller's own settings. Provider API keys are stored AES-GCM encrypted (see
 * lib/secret-box.ts), never returned and never logged; only a hint of the last characters is shown.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { and, eq } from "drizzle-orm";
import { userApiKeys } from "../../migrations/schema.ts";
import { getDb } from "../db/client.ts";
import { ApiError } from "../lib/errors.ts";
import { createRouter, errorResponses, isoRequired, jsonBody, jsonResponse, TimestampSchema } from "../lib/router.ts";
import { parseMasterKeys, sealSecret } from "../lib/secret-box.ts";
import { requireUser } from "../middleware/auth.ts";

const tags = ["me"];
const KeySchema = z.object({ provider: z.literal("anthropic"), hint: z.string(), updatedAt: TimestampSchema }).openapi("ApiKeyInfo");
const ProviderParams = z.object({ provider: z.literal("anthropic").openapi({ param: { name: "provider", in: "path" } }) });

const listKeys = createRoute({
  method: "get",
  path: "/api-keys",
  tags,
  summary: "Which provider keys you have stored (never the keys themselves)",
  responses: { 200: jsonResponse(z.object({ keys: z.array(KeySchema), deploymentKey: z.boolean() }), "Keys"), ...errorResponses },
});
const putKey = createRoute({
  method: "put",
  path: "/api-keys/{provider}",
  tags,
  summary: "Store (or replace) your API key for a provider",
  request: { params: ProviderParams, ...jsonBody(z.object({ apiKey: z.string().trim().min(20).max(300).regex(/^\S+$/, "no spaces") })) },
  responses: { 200: jsonResponse(KeySchema, "Stored"), ...errorResponses },
});
const deleteKey = createRoute({
  method: "delete",
  path: "/api-keys/{provider}",
  tags,
  summary: "Remove your API key for a provider",
  request: { params: ProviderParams },
  responses: { 204: { description: "Removed" }, ...errorResponses },
});

export const meRoutes = createRouter()
  .openapi(listKeys, async (c) => {
    const auth = requireUser(c);
    const rows = await getDb(c.env)
      .select({ provider: userApiKeys.provider, hint: userApiKeys.hint, updatedAt: userApiKeys.updatedAt })
      .from(userApiKeys)
      .where(eq(userApiKeys.userId, auth.userId));
    return c.json(
      { keys: rows.map((r) => ({ ...r, updatedAt: isoRequired(r.updatedAt) })), deploymentKey: Boolean(c.env.ANTHROPIC_API_KEY) },
      200,
    );
  })
  .openapi(putKey, async (c) => {
    const auth = requireUser(c);
    const { provider } = c.req.valid("param");
    const { apiKey } = c.req.valid("json");
    if (!c.env.ENCRYPTION_KEYS) throw new ApiError("SERVICE_UNAVAILABLE", "Storing keys needs ENCRYPTION_KEYS to be configured.");
    const ciphertext = await sealSecret(parseMasterKeys(c.env.ENCRYPTION_KEYS), `${provider}-key:${auth.userId}`, apiKey);
    const hint = `…${apiKey.slice(-4)}`;
    const now = new Date();
    await getDb(c.env)
      .insert(userApiKeys)
      .values({ userId: auth.userId, provider, ciphertext, hint, updatedAt: now })
      .onConflictDoUpdate({ target: [userApiKeys.userId, userApiKeys.provider], set: { ciphertext, hint, updatedAt: now } });
    return c.json({ provider, hint, updatedAt: now.toISOString() }, 200);
  })
  .openapi(deleteKey, async (c) => {
    const auth = requireUser(c);
    const { provider } = c.req.valid("param");
    await getDb(c.env)
      .delete(userApiKeys)
      .where(and(eq(userApiKeys.userId, auth.userId), eq(userApiKeys.provider, provider)));
    return c.body(null, 204);
  });
