/**
 * Guards signed-in pages: sends visitors to the login page (remembering where they were going)
 * and shows the forced password change instead of any page until it is done.
 */
import { Navigate, useLocation } from "@solidjs/router";
import { type JSX, Match, Switch } from "solid-js";
import { ChangePasswordPage } from "../pages/ChangePasswordPage.tsx";
import { rememberFragment } from "../lib/pending-fragment.ts";
import { currentUser } from "../session/session.ts";

export interface RequireUserProps {
  children?: JSX.Element;
}

export function RequireUser(props: RequireUserProps) {
  const location = useLocation();
  const loginHref = () => {
    // The fragment (e.g. a share link's token) waits in sessionStorage, never in the URL.
    rememberFragment(location.pathname, window.location.hash);
    return `/login?next=${encodeURIComponent(location.pathname + location.search)}`;
  };
  return (
    <Switch>
      <Match when={!currentUser()}>
        <Navigate href={loginHref()} />
      </Match>
      <Match when={currentUser()?.mustChangePassword}>
        <ChangePasswordPage forced />
      </Match>
      <Match when={true}>{props.children}</Match>
    </Switch>
  );
}

/** Guards admin pages (inside RequireUser). */
export function RequireAdmin(props: RequireUserProps) {
  return (
    <Switch>
      <Match when={!currentUser()?.isAdmin}>
        <section class="card narrow">
          <h1>Administrators only</h1>
          <p>You need administrator rights to see this page.</p>
        </section>
      </Match>
      <Match when={true}>{props.children}</Match>
    </Switch>
  );
}
