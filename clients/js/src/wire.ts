// The wire format of skein's client protocols (docs/protocol.md): what the
// server sends, parsed and checked; what the client sends.

/** An event of the session: `{"seq": S, "data": D}` with S >= 1. */
export interface EventFrame { kind: 'event'; seq: number; data: unknown }
/** The first frame of every connection: `{"seq":0,"data":{"type":"welcome",...}}`. */
export interface WelcomeFrame { kind: 'welcome'; client: string; node: string; resumeToken: string }
/** `{"ack": N}` (input N is durable) or `{"ack": N, "error": T}` (rejected). */
export interface AckFrame { kind: 'ack'; id: number; error?: string }
/** A connection-level error, `{"seq":0,"data":{"type":"error",...}}` (e.g. JSON too deep). */
export interface ConnectionErrorFrame { kind: 'connection-error'; message: string }

export type ServerFrame = EventFrame | WelcomeFrame | AckFrame | ConnectionErrorFrame;

/** The largest message id (2^53 - 1). */
export const MAX_ID = Number.MAX_SAFE_INTEGER;

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Parses one server frame (JSON text). Returns null for anything that is
 * not one of the shapes above (the caller reports it; it is never thrown).
 */
export function parseServerFrame(text: string): ServerFrame | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObject(v)) return null;
  if ('ack' in v) {
    const id = v.ack;
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) return null;
    if ('error' in v) return { kind: 'ack', id, error: typeof v.error === 'string' ? v.error : JSON.stringify(v.error) };
    return { kind: 'ack', id };
  }
  const seq = v.seq;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0 || !('data' in v)) return null;
  const data = v.data;
  if (seq === 0 && isObject(data)) {
    if (data.type === 'welcome' && typeof data.client === 'string' && data.client !== '') {
      return { kind: 'welcome', client: data.client, node: typeof data.node === 'string' ? data.node : '',
        resumeToken: typeof data.resume_token === 'string' ? data.resume_token : '' };
    }
    if (data.type === 'error') return { kind: 'connection-error', message: String(data.message ?? '') };
  }
  return { kind: 'event', seq, data };
}

/** A message with an id: `{"id": N, "data": X}`. */
export function encodeMessage(id: number, data: unknown): string {
  return JSON.stringify({ id, data });
}

/** Is `data` an event that says the missed events are gone (`{"type":"reset"}`)? */
export function isReset(data: unknown): boolean {
  return isObject(data) && data.type === 'reset';
}

/** Client ids the server accepts: `[A-Za-z0-9_-]{1,64}`. */
export function validClientId(id: string): boolean {
  return /^[A-Za-z0-9_-]{1,64}$/.test(id);
}
