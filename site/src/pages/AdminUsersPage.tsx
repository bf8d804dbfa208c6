/**
 * Every account: search and filter, deactivate / reactivate, grant / revoke admin. The API
 * keeps at least one active administrator (LAST_ADMIN) and ends the sessions of a user it
 * changes, so the change applies at once.
 */
import { createResource, createSignal, Show } from "solid-js";
import { listUsers, updateUser } from "../api/admin-api.ts";
import type { User, UserListQuery, UserStatusFilter, UserUpdate } from "../api/types.ts";
import { ActionFeedback } from "../components/ActionFeedback.tsx";
import { Avatar } from "../components/Avatar.tsx";
import { DataTable } from "../components/DataTable.tsx";
import { LoadState } from "../components/LoadState.tsx";
import { formatDateTime } from "../lib/format.ts";
import { usePageTitle } from "../lib/page-title.ts";
import { currentUser, updateCurrentUser } from "../session/session.ts";

const PAGE_SIZE = 25;

export function AdminUsersPage() {
  usePageTitle(() => "Users");
  const [query, setQuery] = createSignal<Required<UserListQuery>>({ q: "", status: "all", limit: PAGE_SIZE, offset: 0 });
  const [page, { mutate, refetch }] = createResource(query, listUsers);
  const [error, setError] = createSignal<unknown>();
  const [notice, setNotice] = createSignal<string>();
  const [busyId, setBusyId] = createSignal<string>();

  const pageValue = () => (page.state === "errored" ? undefined : page.latest);
  const from = () => query().offset + 1;
  const to = () => query().offset + (pageValue()?.users.length ?? 0);

  function onFilter(event: SubmitEvent) {
    event.preventDefault();
    const data = new FormData(event.currentTarget as HTMLFormElement);
    setQuery({
      q: String(data.get("q") ?? "").trim(),
      status: String(data.get("status")) as UserStatusFilter,
      limit: PAGE_SIZE,
      offset: 0,
    });
  }

  async function change(user: User, update: UserUpdate, done: string) {
    setBusyId(user.id);
    setError(undefined);
    setNotice(undefined);
    try {
      const updated = await updateUser(user.id, update);
      mutate((p) => p && { ...p, users: p.users.map((u) => (u.id === updated.id ? updated : u)) });
      updateCurrentUser(updated);
      setNotice(`@${updated.username} ${done}.`);
    } catch (e: unknown) {
      setError(e);
    } finally {
      setBusyId(undefined);
    }
  }

  return (
    <section class="card" aria-labelledby="users-heading">
      <h2 id="users-heading">Users</h2>
      <form class="form form-row filters" aria-label="Filter users" onSubmit={onFilter}>
        <label class="field">
          <span class="field-label">Search</span>
          <input name="q" type="search" maxLength={100} placeholder="Username, email or name" value={query().q} />
        </label>
        <label class="field">
          <span class="field-label">Status</span>
          <select name="status">
            <option value="all">All</option>
            <option value="active">Active</option>
            <option value="inactive">Deactivated</option>
          </select>
        </label>
        <button type="submit" class="button">
          Apply
        </button>
      </form>
      <ActionFeedback error={error()} notice={notice()} />
      <LoadState
        error={page.error}
        value={pageValue()}
        isEmpty={(p) => p.users.length === 0}
        errorTitle="Could not load users."
        loadingText="Loading users…"
        emptyText="No users match."
        onRetry={refetch}
      >
        {(p) => (
          <>
            <DataTable items={p().users} columns={["User", "Email", "Status", "Last sign-in", "Created"]} actions testId="users-table">
              {(user) => (
                <tr data-testid="user-row" data-username={user.username}>
                  <td>
                    <span class="person">
                      <Avatar id={user.id} name={user.displayName || user.username} size="small" />
                      <span>
                        {user.displayName} <span class="muted">@{user.username}</span>
                        <Show when={user.id === currentUser()?.id}>
                          {" "}
                          <span class="badge badge-you">you</span>
                        </Show>
                      </span>
                    </span>
                  </td>
                  <td>{user.email}</td>
                  <td>
                    <span class="badge-group">
                      <span class={user.isActive ? "badge badge-active" : "badge badge-inactive"}>
                        {user.isActive ? "active" : "deactivated"}
                      </span>
                      <Show when={user.isAdmin}>
                        <span class="badge badge-admin">admin</span>
                      </Show>
                      <Show when={user.mustChangePassword}>
                        <span class="badge">must change password</span>
                      </Show>
                    </span>
                  </td>
                  <td>{formatDateTime(user.lastLoginAt)}</td>
                  <td>{formatDateTime(user.createdAt)}</td>
                  <td class="cell-actions">
                    <button
                      type="button"
                      class="button button-small"
                      disabled={busyId() === user.id}
                      aria-label={`${user.isActive ? "Deactivate" : "Reactivate"} ${user.username}`}
                      onClick={() => change(user, { isActive: !user.isActive }, user.isActive ? "was deactivated" : "was reactivated")}
                    >
                      {user.isActive ? "Deactivate" : "Reactivate"}
                    </button>
                    <button
                      type="button"
                      class="button button-small"
                      disabled={busyId() === user.id}
                      aria-label={`${user.isAdmin ? "Revoke admin from" : "Make admin:"} ${user.username}`}
                      onClick={() =>
                        change(user, { isAdmin: !user.isAdmin }, user.isAdmin ? "is no longer an administrator" : "is now an administrator")
                      }
                    >
                      {user.isAdmin ? "Revoke admin" : "Make admin"}
                    </button>
                  </td>
                </tr>
              )}
            </DataTable>
            <div class="pager">
              <span class="muted">
                {from()}–{to()} of {p().total}
              </span>
              <button
                type="button"
                class="button"
                disabled={query().offset === 0}
                onClick={() => setQuery((q) => ({ ...q, offset: Math.max(0, q.offset - PAGE_SIZE) }))}
              >
                Previous
              </button>
              <button
                type="button"
                class="button"
                disabled={to() >= p().total}
                onClick={() => setQuery((q) => ({ ...q, offset: q.offset + PAGE_SIZE }))}
              >
                Next
              </button>
            </div>
          </>
        )}
      </LoadState>
    </section>
  );
}
