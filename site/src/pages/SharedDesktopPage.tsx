/**
 * /desktops/shared#token=… — a teammate's view-only viewer. The token stays in the fragment (it
 * never reaches a server log) and is redeemed for a fresh view-only ticket on every connection.
 */
import { useLocation } from "@solidjs/router";
import { createSignal, Show } from "solid-js";
import { sharedDesktopTicket } from "../api/desktops-api.ts";
import { DesktopViewer } from "../components/DesktopViewer.tsx";
import { usePageTitle } from "../lib/page-title.ts";
import { currentFragment, forgetFragment } from "../lib/pending-fragment.ts";

function tokenFromFragment(path: string): string | undefined {
  // After a detour through the login page the fragment comes back from sessionStorage.
  const token = new URLSearchParams(currentFragment(path).replace(/^#/, "")).get("token");
  return token?.trim() || undefined;
}

export function SharedDesktopPage() {
  // The router's path: while it navigates here, window.location may still show the page before.
  const token = tokenFromFragment(useLocation().pathname);
  const [about, setAbout] = createSignal<{ id: string; templateName: string; ownerName: string }>();
  usePageTitle(() => (about() ? `${about()?.templateName} (shared)` : "Shared desktop"));

  async function fetchTicket() {
    if (!token) throw new Error("missing token");
    const ticket = await sharedDesktopTicket(token);
    forgetFragment();
    setAbout(ticket.session);
    return ticket;
  }

  return (
    <div class="page">
      <div class="page-heading">
        <h1>{about() ? `${about()?.ownerName}'s ${about()?.templateName}` : "Shared desktop"}</h1>
      </div>
      <Show
        when={token}
        fallback={
          <p class="alert alert-error" role="alert">
            This share link is incomplete: it has no token. Ask for the link again.
          </p>
        }
      >
        <DesktopViewer sessionId={about()?.id ?? ""} owner={false} fetchTicket={fetchTicket} />
      </Show>
    </div>
  );
}
