// Internal to net/: small HTTP helpers the routes share: header lookup,
// Accept / Content-Type matching, random ids, the SSE keepalive interval.
// No state beyond constants read once; thread-safe.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "net/detail.hpp"

namespace skein::net_detail {

/// The value of header `name`, or "" when absent.
std::string header(const request& req, std::string_view name);

/// `media_type` ("text/event-stream") acceptable per the Accept header?
bool accepts(const request& req, std::string_view media_type);
/// The media type of Content-Type is `media_type` (parameters ignored)?
bool content_type_is(const request& req, std::string_view media_type);

/// A client id a client may name (resume, POST as a stream's client):
/// 1 to 64 of [A-Za-z0-9_-].
bool valid_client_id(std::string_view s);

/// 128 random bits from getrandom(2) as 32 lowercase hex digits.
std::string secure_random_id();

/// A resume token as secure_random_id makes them: 32 lowercase hex digits.
bool valid_resume_token(std::string_view s);

/// True (after answering 503 with Retry-After: 1) if the node already holds
/// opts.max_connections client streams, or the request's remote address
/// already holds opts.max_connections_per_address (when not 0): a new /ws or
/// /sse stream is refused. Otherwise false and `slot` holds the stream's
/// place under the per-address limit (give it to the stream: client_stream::hold).
bool refuse_over_connection_limit(request_context& rc, address_slot& slot);

/// The SSE comment-line interval (15 s; SKEIN_SSE_KEEPALIVE_MS overrides).
std::chrono::milliseconds sse_keepalive_interval();

}  // namespace skein::net_detail
