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
        </nav>
        {props.children}
      </div>
    </RequireAdmin>
  );
}
