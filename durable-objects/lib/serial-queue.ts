/**
 * Runs async tasks one after another. A Durable Object's input gate lets a new event in while a
 * handler awaits Postgres; state machines that read, await, then write need this to stay atomic.
 */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(task);
    // A failed task must not poison the tasks queued after it.
    this.#tail = result.catch(() => undefined);
    return result;
  }
}
