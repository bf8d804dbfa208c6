/**
 * /api/v1/admin/meeting-settings: the deployment's meeting limits (meetings per user per day,
 * spend per user per day on the deployment's Anthropic key, default and maximum meeting budget).
 * Administrators only. What the limits mean: durable-objects/meeting/meeting-limits.ts.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { readMeetingLimits, writeMeetingLimits } from "../../durable-objects/meeting/meeting-limits.ts";
import type { AnyDb } from "../../durable-objects/meeting/meeting-records.ts";
import { getDb } from "../db/client.ts";
import { createRouter, errorResponses, jsonBody, jsonResponse } from "../lib/router.ts";
import { auditActor, requireAdmin } from "../middleware/auth.ts";
import { auditInsert } from "../services/audit.ts";

const tags = ["admin", "meetings"];

const Usd = z.number().min(0).max(100_000);

export const MeetingSettingsSchema = z
  .object({
    meetingsPerUserPerDay: z
      .number()
      .int()
      .min(0)
      .max(100_000)
      .openapi({ description: "meetings a user may create in 24 hours (every user, whichever key pays; merge meetings not counted)" }),
    dailySpendUsdPerUser: Usd.openapi({
      description: "USD a user's meetings may spend on the deployment's Anthropic key in 24 hours (own keys are not limited)",
    }),
    defaultMeetingBudgetUsd: Usd.positive().openapi({ description: "budget of a meeting on the deployment's key that sets none" }),
    maxMeetingBudgetUsd: Usd.positive().openapi({ description: "the largest budget a meeting on the deployment's key may have" }),
  })
  .refine((s) => s.defaultMeetingBudgetUsd <= s.maxMeetingBudgetUsd, {
    path: ["defaultMeetingBudgetUsd"],
    message: "the default budget cannot be above the maximum",
  })
  .openapi("MeetingSettings");

const getSettings = createRoute({
  method: "get",
  path: "/meeting-settings",
  tags,
  summary: "The deployment's meeting limits",
  responses: { 200: jsonResponse(z.object({ settings: MeetingSettingsSchema }), "Settings"), ...errorResponses },
});
const putSettings = createRoute({
  method: "put",
  path: "/meeting-settings",
  tags,
  summary: "Set the meeting limits (they apply to the next meeting created and the next turn of running ones)",
  request: { ...jsonBody(MeetingSettingsSchema) },
  responses: { 200: jsonResponse(z.object({ settings: MeetingSettingsSchema }), "Saved"), ...errorResponses },
});

export const adminMeetingRoutes = createRouter()
  .openapi(getSettings, async (c) => {
    requireAdmin(c);
    return c.json({ settings: await readMeetingLimits(getDb(c.env) as unknown as AnyDb) }, 200);
  })
  .openapi(putSettings, async (c) => {
    const auth = requireAdmin(c);
    const body = c.req.valid("json");
    const db = getDb(c.env);
    const settings = await writeMeetingLimits(db as unknown as AnyDb, body);
    await auditInsert(db, {
      ...auditActor(c, auth),
      action: "admin.meeting_settings.update",
      targetType: "meeting_settings",
      targetId: "1",
      detail: { ...body },
    });
    return c.json({ settings }, 200);
  });
