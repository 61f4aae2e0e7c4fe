// Generated from clients/js/src by `npm run assets` (tsc); do not edit.
// Asking a node which node to connect to: GET /gateway (the least-loaded
// node) or GET /gateway?session=kind/id (the node that holds the session).
/** The gateway refused for good (HTTP 400/404: malformed key, unknown kind). */
export class GatewayRefused extends Error {
    status;
    constructor(status, message) {
        super(message);
        this.status = status;
        this.name = 'GatewayRefused';
    }
}
/** Strips trailing slashes: "http://h:1/" -> "http://h:1". */
export function baseUrl(url) {
    return url.replace(/\/+$/, '');
}
/**
 * GET `${seed}/gateway[?session=key]` within `timeoutMs`. Resolves with the
 * answer; rejects with GatewayRefused on 400/404, with an Error otherwise
 * (network, timeout, other status, a body that is not {node, url}).
 */
export async function askGateway(fetchFn, seed, key, timeoutMs) {
    const url = `${baseUrl(seed)}/gateway${key ? `?session=${encodeURIComponent(key)}` : ''}`;
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), timeoutMs);
    try {
        const res = await fetchFn(url, { signal: ctl.signal });
        const text = await res.text();
        if (res.status === 400 || res.status === 404)
            throw new GatewayRefused(res.status, `${url}: HTTP ${res.status} ${text.slice(0, 200)}`);
        if (res.status !== 200)
            throw new Error(`${url}: HTTP ${res.status} ${text.slice(0, 200)}`);
        const v = JSON.parse(text);
        if (v === null || typeof v !== 'object')
            throw new Error(`${url}: not a JSON object`);
        const { node, url: nodeUrl } = v;
        if (typeof node !== 'string' || typeof nodeUrl !== 'string' || !/^https?:\/\//.test(nodeUrl)) {
            throw new Error(`${url}: answer is not {"node","url"}: ${text.slice(0, 200)}`);
        }
        return { node, url: baseUrl(nodeUrl) };
    }
    catch (e) {
        if (ctl.signal.aborted)
            throw new Error(`${url}: no answer within ${timeoutMs} ms`);
        throw e;
    }
    finally {
        clearTimeout(timer);
    }
}
/**
 * Where to connect: asks each seed's gateway in turn, starting at seed
 * `start`, and returns the first answer. When no gateway answers, the seed
 * `start` itself (name "") so the client still tries a node. GatewayRefused
 * is passed on (retrying cannot help).
 */
export async function pickNode(fetchFn, seeds, start, key, timeoutMs) {
    for (let i = 0; i < seeds.length; i++) {
        const seed = seeds[(start + i) % seeds.length];
        try {
            return await askGateway(fetchFn, seed, key, timeoutMs);
        }
        catch (e) {
            if (e instanceof GatewayRefused)
                throw e;
        }
    }
    return { node: '', url: baseUrl(seeds[start % seeds.length]) };
}
