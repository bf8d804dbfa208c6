/** /desktops/:id — the owner's viewer for one of their desktops. */
import { A, useParams } from "@solidjs/router";
import { createResource, Show } from "solid-js";
import { desktopTicket, getDesktop } from "../api/desktops-api.ts";
import { DesktopViewer } from "../components/DesktopViewer.tsx";
import { usePageTitle } from "../lib/page-title.ts";

export function DesktopViewerPage() {
  const params = useParams<{ id: string }>();
  const [session] = createResource(() => params.id, getDesktop);
  usePageTitle(() => session.latest?.templateName ?? "Desktop");
  return (
    <div class="page">
      <nav class="breadcrumbs" aria-label="Breadcrumbs">
        <A href="/desktops">Desktops</A> / <span>{session.latest?.templateName ?? "Desktop"}</span>
      </nav>
      <Show when={params.id} keyed>
        {(id) => <DesktopViewer sessionId={id} owner fetchTicket={(reconnect) => desktopTicket(id, { wake: !reconnect })} />}
      </Show>
    </div>
  );
}
