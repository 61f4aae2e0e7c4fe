// MCP server API: an MCP server (tools, resources, prompts, completions,
// logging) written as a skein behaviour. One MCP session (Mcp-Session-Id) is
// one skein session of kind `mcp`; every HTTP request of it, on any node, is
// a client of that session actor (see actors/mcp/wire.hpp for how net/ and
// the behaviour talk). So the session's state -- negotiated version, log
// level, subscriptions, tool calls in flight and the server-to-client
// requests they wait for -- lives in the session actor and is checkpointed
// like any other behaviour state.
//
// Declaring a server:
//
//   const skein::mcp::server& my_server() {
//     static const skein::mcp::server s = [] {
//       skein::mcp::server s{"my-server", "1.0.0"};
//       s.add(skein::mcp::tool{"echo", "Echoes its text",
//                              {{"type","object"},{"properties",{{"text",{{"type","string"}}}}}},
//                              [](skein::mcp::tool_call& call, const skein::mcp::tool_event&) {
//                                call.finish_text(call.arguments().value("text", ""));
//                              }});
//       return s;
//     }();
//     return s;
//   }
//   struct my_app { static const skein::mcp::server& server() { return my_server(); } };
//   registry.add<skein::mcp::behaviour<my_app>>("mcp");
//
// Tool handlers never block. A handler that must wait -- for time
// (call.sleep), for the client's answer to sampling or elicitation
// (call.request / call.elicit / call.sample) -- records what it needs in
// call.vars() (a JSON object persisted with the session) and returns; the
// runtime calls it again with the next tool_event (wake, result, error) when
// that arrives, possibly as a POST on another node. So a handler is an
// explicit state machine:
//
//   [](tool_call& call, const tool_event& ev) {
//     switch (call.vars().value("step", 0)) {
//       case 0: call.vars()["step"] = 1; call.elicit("Name?", schema); return;
//       case 1: call.finish_text("Hello " + ev.value["content"]["name"].get<std::string>());
//     }
//   }
//
// Every handler call must end with exactly one of: finish*/fail (the call
// is answered), sleep/request/elicit/sample (it waits), close_stream+wait.
// A handler that throws answers the call with a JSON-RPC error -32603.
// Handlers run inside the behaviour: use call.now()/call.random(), not the
// clock or a RNG, so that replay reproduces them.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <msgpack.hpp>
#include <nlohmann/json.hpp>

#include "actors/behaviour.hpp"
#include "actors/mcp/versions.hpp"
#include "actors/options.hpp"

namespace skein::mcp {

using json = nlohmann::json;

// ---- session state (checkpointed; JSON values kept as JSON text) ----------

/// One MCP stream: a POST's response stream or a standalone GET stream.
struct stream_state {
  std::string kind;                   // "post" | "get"
  std::string carrier;                // client id writing it now; empty: detached
  bool sse = false;                   // the carrier's response is text/event-stream
  std::vector<std::string> awaiting;  // POST: request ids (JSON text) not answered yet
  std::vector<std::string> buffer;    // messages produced while detached (JSON text)
  MSGPACK_DEFINE(kind, carrier, sse, awaiting, buffer);
};

/// One tools/call in flight.
struct call_state {
  std::string request_id;      // JSON text
  std::string stream;          // the stream that carries its response
  std::string tool;
  std::string arguments;       // JSON text
  std::string progress_token;  // JSON text, empty: none
  std::string vars = "{}";     // the handler's own JSON state
  std::string await_kind;      // "" | "wake" | "request"
  std::string await_key;       // wake token or outgoing request id (JSON text)
  MSGPACK_DEFINE(request_id, stream, tool, arguments, progress_token, vars, await_kind, await_key);
};

struct session_state {
  bool initialized = false;
  bool deleted = false;
  std::string protocol_version;
  std::string client_capabilities = "{}";
  std::string client_info = "{}";
  std::string log_level = "debug";
  std::vector<std::string> subscriptions;
  std::int64_t next_request = 1;                     // server -> client request ids
  std::int64_t next_wake = 1;
  std::map<std::string, stream_state> streams;       // by stream id
  std::map<std::string, std::string> client_stream;  // client id -> stream id
  std::vector<std::string> detached;                 // detached stream ids, oldest first
  std::map<std::string, call_state> calls;           // by call id (stream + " " + request id)
  std::map<std::string, std::string> outgoing;       // request id (JSON text) -> call id
  std::string get_stream;                            // the standalone GET stream, if any
  std::vector<std::string> pending_wakes;            // wake controls with no transport yet
                                                     // (before timers: call.sleep now uses ctx.after)
  MSGPACK_DEFINE(initialized, deleted, protocol_version, client_capabilities, client_info,
                 log_level, subscriptions, next_request, next_wake, streams, client_stream,
                 detached, calls, outgoing, get_stream, pending_wakes);
};

// ---- tools ------------------------------------------------------------------

/// Why a tool handler runs.
struct tool_event {
  enum class kind { start, wake, result, error };
  kind what = kind::start;
  /// start: the arguments; result: the client's result object;
  /// error: the client's JSON-RPC error object; wake: null.
  json value;
};

class engine;

/// The handle a tool handler gets for one tools/call.
class tool_call {
 public:
  tool_call(engine& e, std::string call_id);

  const std::string& tool() const;
  const json& arguments() const;
  /// The handler's persisted scratch state (a JSON object, {} at start).
  json& vars() { return vars_; }
  /// The client's capabilities from initialize.
  const json& client_capabilities() const;
  bool client_supports(std::string_view capability) const;
  /// The input's time (ms since the Unix epoch) and a journaled random value.
  std::int64_t now() const;
  std::uint64_t random();

  /// notifications/progress to the call's stream, if the request had a
  /// progressToken (otherwise nothing).
  void progress(double progress, std::optional<double> total = {}, std::string message = {});
  /// notifications/message, if `level` passes the session's logging/setLevel.
  void log(std::string_view level, json data, std::string logger = {});

  /// Sends a request to the client (on the call's stream) and waits; the
  /// handler runs again with a result or error event.
  void request(std::string method, json params);
  void elicit(std::string message, json requested_schema);
  void sample(json params);
  /// Waits `ms`; the handler runs again with a wake event.
  void sleep(std::uint32_t ms);

  /// Answers the call with a CallToolResult.
  void finish(json result);
  void finish_text(std::string text, bool is_error = false);
  /// Answers the call with a JSON-RPC error.
  void fail(int code, std::string message, json data = nullptr);
  /// SEP-1699 polling: ends the call's HTTP connection (retry `retry_ms`)
  /// without ending the MCP stream; what the call sends afterwards is kept
  /// and delivered when the client resumes with GET + Last-Event-ID.
  void close_stream(std::uint32_t retry_ms);

  bool done() const { return done_; }
  bool waiting() const { return waiting_; }
  json& vars_ref() { return vars_; }

 private:
  engine& e_;
  std::string id_;
  json args_;
  json vars_;
  bool done_ = false;
  bool waiting_ = false;
};

using tool_handler = std::function<void(tool_call&, const tool_event&)>;

struct tool {
  std::string name;
  std::string description;
  json input_schema = json{{"type", "object"}};  // JSON Schema, passed through verbatim
  tool_handler handler;
  std::string title;
  json annotations = nullptr;
  json output_schema = nullptr;
};

// ---- resources, prompts, completion -----------------------------------------

struct resource {
  std::string uri;
  std::string name;
  std::string description;
  std::string mime_type;
  /// Returns the `contents` array of a ReadResourceResult.
  std::function<json(const std::string& uri)> read;
};

/// A resource template (RFC 6570 level 1: `{var}` matches one or more
/// characters other than '/').
struct resource_template {
  std::string uri_template;
  std::string name;
  std::string description;
  std::string mime_type;
  std::function<json(const std::string& uri, const std::map<std::string, std::string>& vars)> read;
};

struct prompt_argument {
  std::string name;
  std::string description;
  bool required = false;
};

struct prompt {
  std::string name;
  std::string description;
  std::vector<prompt_argument> arguments;
  /// Returns a GetPromptResult ({"messages":[...]}); throw
  /// std::invalid_argument for bad arguments (-32602).
  std::function<json(const json& arguments)> get;
};

/// completion/complete: (ref, argument {name,value}, context) -> the
/// `completion` object {"values":[...],"total"?, "hasMore"?}.
using completion_handler = std::function<json(const json& ref, const json& argument, const json& context)>;

// ---- the server definition ------------------------------------------------

/// What an MCP server offers. Build once (e.g. a function-local static) and
/// read-only after that.
class server {
 public:
  server(std::string name, std::string version);

  server& instructions(std::string text);
  server& add(tool t);
  server& add(resource r);
  server& add(resource_template t);
  server& add(prompt p);
  server& completion(completion_handler h);

  const std::string& name() const { return name_; }
  const std::string& version() const { return version_; }
  const tool* find_tool(std::string_view name) const;
  const prompt* find_prompt(std::string_view name) const;
  /// The contents of `uri` (a resource or a template match), or nullopt.
  std::optional<json> read_resource(const std::string& uri) const;

  json tools_json() const;
  json resources_json() const;
  json templates_json() const;
  json prompts_json() const;
  const completion_handler& completer() const { return completion_; }
  const std::string& instructions_text() const { return instructions_; }

  // Behaviour entry points (behaviour<App> forwards to these).
  void on_open(context<session_state>& ctx, const client& c) const;
  void on_message(context<session_state>& ctx, const client& c, const json& msg) const;
  void on_close(context<session_state>& ctx, const client& c) const;
  /// A call.sleep timer (ctx.after) fired: `payload` is its wake control.
  void on_timer(context<session_state>& ctx, const json& payload) const;

 private:
  std::string name_, version_, instructions_;
  std::vector<tool> tools_;
  std::vector<resource> resources_;
  std::vector<resource_template> templates_;
  std::vector<prompt> prompts_;
  completion_handler completion_;
};

/// The skein behaviour of an MCP server: App provides
/// `static const skein::mcp::server& server()`.
template <class App>
struct behaviour {
  using state_type = session_state;
  void on_open(context<session_state>& ctx, const client& c) { App::server().on_open(ctx, c); }
  void on_message(context<session_state>& ctx, const client& c, const json& msg) {
    App::server().on_message(ctx, c, msg);
  }
  void on_close(context<session_state>& ctx, const client& c) { App::server().on_close(ctx, c); }
  void on_timer(context<session_state>& ctx, const json& payload) {
    App::server().on_timer(ctx, payload);
  }
  static kind_options options() {
    kind_options o;
    o.snapshot_every = 200;  // three journal entries per HTTP request
    return o;
  }
};

}  // namespace skein::mcp
