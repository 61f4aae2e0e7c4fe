// A tiny typed event emitter (EventTarget is awkward to type and to use
// with plain data in both browsers and Node).

export type Listener<T> = (value: T) => void;

export class Emitter<Events extends object> {
  private listeners = new Map<keyof Events, Set<Listener<any>>>();

  /** Subscribes; returns the function that unsubscribes. */
  on<K extends keyof Events>(event: K, fn: Listener<Events[K]>): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(fn);
    return () => this.off(event, fn);
  }

  /** Like on(), but only for the next emission. */
  once<K extends keyof Events>(event: K, fn: Listener<Events[K]>): () => void {
    const off = this.on(event, (v) => { off(); fn(v); });
    return off;
  }

  off<K extends keyof Events>(event: K, fn: Listener<Events[K]>): void {
    this.listeners.get(event)?.delete(fn);
  }

  /** Calls every listener; one that throws does not stop the others (it is reported asynchronously). */
  protected emit<K extends keyof Events>(event: K, value: Events[K]): void {
    for (const fn of [...(this.listeners.get(event) ?? [])]) {
      try {
        fn(value);
      } catch (e) {
        queueMicrotask(() => { throw e; });
      }
    }
  }
}
