/** Entry point: wires the session into the HTTP layer and mounts the app. */
import { render } from "solid-js/web";
import { App } from "./App.tsx";
import { installSessionHooks } from "./session/session.ts";
import "./styles.css";

installSessionHooks();

const root = document.getElementById("root");
if (!root) throw new Error("index.html has no #root element");
render(() => <App />, root);
