/**
 * A forked Node helper of a bench section (the fan-out viewers, the desktop section's VNC source
 * and bridges), in its own process group so its CPU is counted on its own and it dies with the
 * bench, with typed IPC: `request` sends a message and waits for the first report of a given type.
 */
import { type ChildProcess, fork } from "node:child_process";
import { join } from "node:path";
import { binDir, type Cleanup, childEnv, root } from "./processes.ts";

export interface IpcChildOptions<Report> {
  /** extra Node flags, e.g. a larger heap */
  execArgv?: string[];
  /** the child's stdout: dropped (default) or shown */
  stdout?: "ignore" | "inherit";
  /** a report that means the child failed: its message (every waiter is rejected with it) */
  failure?: (report: Report) => string | undefined;
}

export class IpcChild<Cmd, Report extends { type: string }> {
  readonly proc: ChildProcess;
  readonly #waiters: { type: string; resolve: (r: Report) => void; reject: (e: Error) => void }[] = [];
  readonly #listeners: ((r: Report) => void)[] = [];
  #stderr = "";

  /** `script`: the helper's path from the repository root. */
  constructor(script: string, args: string[], cleanup: Cleanup, label: string, options: IpcChildOptions<Report> = {}) {
    this.proc = fork(join(root, script), args, {
      execPath: join(binDir, "node"),
      ...(options.execArgv && { execArgv: options.execArgv }),
      env: childEnv(),
      stdio: ["ignore", options.stdout ?? "ignore", "pipe", "ipc"],
      detached: true,
    });
    this.proc.stderr?.on("data", (d: Buffer) => {
      this.#stderr = (this.#stderr + d.toString()).slice(-16_384);
    });
    this.proc.on("message", (raw: unknown) => {
      const report = raw as Report;
      const failed = options.failure?.(report);
      if (failed !== undefined) {
        for (const w of this.#waiters.splice(0)) w.reject(new Error(`${label}: ${failed}`));
        return;
      }
      for (const l of this.#listeners) l(report);
      const i = this.#waiters.findIndex((w) => w.type === report.type);
      if (i >= 0) this.#waiters.splice(i, 1)[0]?.resolve(report);
    });
    this.proc.once("exit", (code, signal) => {
      for (const w of this.#waiters.splice(0)) w.reject(new Error(`${label} exited (${code ?? signal}):\n${this.#stderr}`));
    });
    cleanup.add(label, () => this.stop());
  }

  get pid(): number {
    if (!this.proc.pid) throw new Error("helper process has no pid");
    return this.proc.pid;
  }

  /** The helper's recent stderr (its log), for error messages. */
  output(): string {
    return this.#stderr;
  }

  onReport(listener: (r: Report) => void): void {
    this.#listeners.push(listener);
  }

  next<T extends Report>(type: T["type"], timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const waiter = {
        type,
        resolve: (r: Report) => {
          clearTimeout(timer);
          resolve(r as T);
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(new Error(`no ${type} report within ${timeoutMs} ms:\n${this.#stderr}`));
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  request<T extends Report>(cmd: Cmd, type: T["type"], timeoutMs = 10_000): Promise<T> {
    const answer = this.next<T>(type, timeoutMs);
    this.proc.send(cmd as object);
    return answer;
  }

  send(cmd: Cmd): void {
    this.proc.send(cmd as object);
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (p.exitCode !== null || p.signalCode !== null || !p.pid) return;
    const exited = new Promise((r) => p.once("exit", r));
    try {
      process.kill(-p.pid, "SIGKILL");
    } catch {
      p.kill("SIGKILL");
    }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3_000))]);
  }
}
