/** Keeps `document.title` in step with the page ("Teams · Atrium"). */
import { createEffect } from "solid-js";

export function usePageTitle(title: () => string | undefined): void {
  createEffect(() => {
    const t = title();
    document.title = t ? `${t} · Atrium` : "Atrium";
  });
}
