// Generated from clients/js/src by `npm run assets` (tsc); do not edit.
// A tiny typed event emitter (EventTarget is awkward to type and to use
// with plain data in both browsers and Node).
export class Emitter {
    listeners = new Map();
    /** Subscribes; returns the function that unsubscribes. */
    on(event, fn) {
        let set = this.listeners.get(event);
        if (!set)
            this.listeners.set(event, (set = new Set()));
        set.add(fn);
        return () => this.off(event, fn);
    }
    /** Like on(), but only for the next emission. */
    once(event, fn) {
        const off = this.on(event, (v) => { off(); fn(v); });
        return off;
    }
    off(event, fn) {
        this.listeners.get(event)?.delete(fn);
    }
    /** Calls every listener; one that throws does not stop the others (it is reported asynchronously). */
    emit(event, value) {
        for (const fn of [...(this.listeners.get(event) ?? [])]) {
            try {
                fn(value);
            }
            catch (e) {
                queueMicrotask(() => { throw e; });
            }
        }
    }
}
