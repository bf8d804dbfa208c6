/** /api/v1/me/api-keys and /api/v1/usage: the caller's own provider keys and what they spent. */
import { apiRequest } from "./http.ts";
import type { ApiKeyInfo, ApiKeyList, ApiKeyProvider, UserUsage } from "./types.ts";

const keyPath = (provider: ApiKeyProvider) => `/api/v1/me/api-keys/${provider}`;

export function listApiKeys(): Promise<ApiKeyList> {
  return apiRequest<ApiKeyList>("GET", "/api/v1/me/api-keys");
}

/** Stores (or replaces) the key; the answer carries only its hint. */
export function saveApiKey(provider: ApiKeyProvider, apiKey: string): Promise<ApiKeyInfo> {
  return apiRequest<ApiKeyInfo>("PUT", keyPath(provider), { body: { apiKey } });
}

export function removeApiKey(provider: ApiKeyProvider): Promise<void> {
  return apiRequest<void>("DELETE", keyPath(provider));
}

export function getUsage(): Promise<UserUsage> {
  return apiRequest<UserUsage>("GET", "/api/v1/usage");
}
