/** Any path the site does not know. */
import { A } from "@solidjs/router";
import { usePageTitle } from "../lib/page-title.ts";

export function NotFoundPage() {
  usePageTitle(() => "Not found");
  return (
    <section class="card narrow">
      <h1>Page not found</h1>
      <p>There is nothing at this address.</p>
      <A href="/teams" class="button">
        Go to your teams
      </A>
    </section>
  );
}
