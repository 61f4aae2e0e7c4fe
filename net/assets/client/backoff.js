// Generated from clients/js/src by `npm run assets` (tsc); do not edit.
// Reconnect delays: exponential backoff with jitter ("equal jitter": half
// the step fixed, half random), so clients that lost the same node do not
// all come back in the same millisecond.
/**
 * The delay before reconnect attempt `attempt` (0 for the first retry):
 * step = min(maxMs, initialMs * factor^attempt), delay uniform in
 * [step/2, step]. `random` returns [0, 1) (Math.random by default).
 */
export function backoffDelay(attempt, opts = {}, random = Math.random) {
    const initial = opts.initialMs ?? 250;
    const max = opts.maxMs ?? 10_000;
    const factor = opts.factor ?? 2;
    const step = Math.min(max, initial * factor ** Math.max(0, Math.min(attempt, 64)));
    return Math.round(step / 2 + random() * (step / 2));
}
