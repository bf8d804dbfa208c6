/**
 * Shared fixtures of the bridge tests: start payloads as the hub sends them.
 */
import { randomUUID } from "node:crypto";
import { type StartPayload, StartPayloadSchema, type TemplateSpec } from "../../../durable-objects/bridge/protocol.ts";

export interface StartPayloadOverrides extends Partial<Omit<StartPayload, "template">> {
  template?: Partial<TemplateSpec>;
}

/** A valid start/wake payload (validated with the protocol schema, so fixtures can't drift from it). */
export function startPayload(overrides: StartPayloadOverrides = {}): StartPayload {
  const { template, ...rest } = overrides;
  return StartPayloadSchema.parse({
    sessionId: randomUUID(),
    dataUrl: "ws://127.0.0.1:1/api/v1/desktops/data",
    dataToken: "data-token-0123456789abcdef",
    imageUrl: null,
    width: 1280,
    height: 800,
    ...rest,
    template: {
      templateId: "tpl-ubuntu-xfce",
      name: "Ubuntu XFCE",
      kind: "container",
      image: "ghcr.io/atrium/desktop-xfce:1.4",
      cpu: 2,
      memoryMb: 4096,
      runtimeClass: null,
      env: {},
      persistentHome: false,
      ...template,
    },
  });
}
