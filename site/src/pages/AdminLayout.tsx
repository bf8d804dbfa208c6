/** The admin area's frame (administrators only): a heading and tabs for its pages. */
import { A } from "@solidjs/router";
import type { JSX } from "solid-js";
import { RequireAdmin } from "../components/RequireUser.tsx";

export function AdminLayout(props: { children?: JSX.Element }) {
  return (
    <RequireAdmin>
      <div class="page">
        <div class="page-heading">
          <h1>Administration</h1>
        </div>
        <nav aria-label="Administration" class="tabs">
          <A href="/admin/users" activeClass="active">
            Users
          </A>
          <A href="/admin/audit" activeClass="active">
            Audit log
          </A>
          <A href="/admin/meeting-settings" activeClass="active">
            Meeting limits
          </A>
          <A href="/admin/desktop-templates" activeClass="active">
            Desktop templates
          </A>
          <A href="/admin/images" activeClass="active">
            VM images
          </A>
          <A href="/admin/desktop-settings" activeClass="active">
            Desktop quotas
          </A>
          <A href="/admin/bridges" activeClass="active">
            Bridges
          </A>
          <A href="/admin/desktop-sessions" activeClass="active">
            Desktop sessions
          </A>
        </nav>
        {props.children}
      </div>
    </RequireAdmin>
  );
}
