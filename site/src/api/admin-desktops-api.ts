/**
 * /api/v1/admin for lab desktops: templates, quotas and idle timeout, every user's sessions,
 * bridges and the VM image catalog (administrators only). Image bytes go up through
 * image-upload.ts.
 */
import type {
  AdminDesktopSession,
  AdminSessionQuery,
  Bridge,
  BridgeInput,
  BridgeQuery,
  BridgeWithToken,
  DesktopSession,
  DesktopSettings,
  DesktopTemplate,
  DesktopTemplateInput,
  VmImage,
} from "./desktop-types.ts";
import { apiRequest } from "./http.ts";

const BASE = "/api/v1/admin";
const id = (value: string) => encodeURIComponent(value);

export async function listTemplates(): Promise<DesktopTemplate[]> {
  return (await apiRequest<{ templates: DesktopTemplate[] }>("GET", `${BASE}/desktop-templates`)).templates;
}

export async function createTemplate(input: DesktopTemplateInput): Promise<DesktopTemplate> {
  return (await apiRequest<{ template: DesktopTemplate }>("POST", `${BASE}/desktop-templates`, { body: input })).template;
}

/** Edits some fields; `{ enabled }` alone enables or disables the template. */
export async function updateTemplate(templateId: string, patch: Partial<DesktopTemplateInput>): Promise<DesktopTemplate> {
  return (await apiRequest<{ template: DesktopTemplate }>("PATCH", `${BASE}/desktop-templates/${id(templateId)}`, { body: patch }))
    .template;
}

export function deleteTemplate(templateId: string): Promise<void> {
  return apiRequest<void>("DELETE", `${BASE}/desktop-templates/${id(templateId)}`);
}

export async function getDesktopSettings(): Promise<DesktopSettings> {
  return (await apiRequest<{ settings: DesktopSettings }>("GET", `${BASE}/desktop-settings`)).settings;
}

export async function saveDesktopSettings(settings: DesktopSettings): Promise<DesktopSettings> {
  return (await apiRequest<{ settings: DesktopSettings }>("PUT", `${BASE}/desktop-settings`, { body: settings })).settings;
}

export function listAllSessions(query: AdminSessionQuery): Promise<{ sessions: AdminDesktopSession[]; total: number }> {
  return apiRequest("GET", `${BASE}/desktop-sessions`, { query: { ...query } });
}

export async function stopAnySession(sessionId: string): Promise<DesktopSession> {
  return (await apiRequest<{ session: DesktopSession }>("POST", `${BASE}/desktop-sessions/${id(sessionId)}/stop`)).session;
}

export async function listBridges(query: BridgeQuery = {}): Promise<Bridge[]> {
  return (await apiRequest<{ bridges: Bridge[] }>("GET", `${BASE}/bridges`, { query: { ...query } })).bridges;
}

/** Registers a bridge; its token is in this answer only. */
export function registerBridge(input: BridgeInput): Promise<BridgeWithToken> {
  return apiRequest<BridgeWithToken>("POST", `${BASE}/bridges`, { body: input });
}

export async function setBridgeDrain(bridgeId: string, drain: boolean): Promise<Bridge> {
  return (await apiRequest<{ bridge: Bridge }>("POST", `${BASE}/bridges/${id(bridgeId)}/${drain ? "drain" : "undrain"}`)).bridge;
}

/** A new token (shown once); the old one stops working and the live connection ends. */
export function rotateBridgeToken(bridgeId: string): Promise<BridgeWithToken> {
  return apiRequest<BridgeWithToken>("POST", `${BASE}/bridges/${id(bridgeId)}/rotate-token`);
}

export function deregisterBridge(bridgeId: string): Promise<void> {
  return apiRequest<void>("DELETE", `${BASE}/bridges/${id(bridgeId)}`);
}

export async function listImages(): Promise<VmImage[]> {
  return (await apiRequest<{ images: VmImage[] }>("GET", `${BASE}/images`)).images;
}

/** Aborts an upload or deletes a ready image (IMAGE_IN_USE while a template names it). */
export function deleteImage(imageId: string): Promise<void> {
  return apiRequest<void>("DELETE", `${BASE}/images/${id(imageId)}`);
}
