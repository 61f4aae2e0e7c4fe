// The demo MCP server with every feature the conformance suite exercises (examples/mcp/everything.hpp).
#include "examples/mcp/everything.hpp"

#include <stdexcept>
#include <string>

namespace examples {

namespace {

using skein::mcp::json;
using skein::mcp::tool_call;
using skein::mcp::tool_event;

// A 1x1 red PNG and 8 samples of 8 kHz mono silence as WAV.
const char* const png_1x1 =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC";
const char* const wav_silence =
  "UklGRjQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YRAAAAAAAAAAAAAAAAAAAAAAAAAA";

json no_args() { return json{{"type", "object"}, {"properties", json::object()}}; }

json string_arg(const char* name, const char* description) {
  return json{{"type", "object"},
              {"properties", {{name, {{"type", "string"}, {"description", description}}}}},
              {"required", json::array({name})}};
}

json content_result(json content) { return json{{"content", std::move(content)}}; }

/// "step" in the call's vars: where a multi-step handler resumes.
int step(tool_call& call) { return call.vars().value("step", 0); }
void next_step(tool_call& call) { call.vars()["step"] = step(call) + 1; }

/// The text of an elicitation answer: "action=..., content={...}".
std::string describe_elicitation(const tool_event& ev) {
  if (ev.what == tool_event::kind::error)
    return "error: " + ev.value.value("message", std::string("unknown error"));
  return "action=" + ev.value.value("action", std::string("?"))
         + ", content=" + ev.value.value("content", json::object()).dump();
}

/// A tool that sends one elicitation request with `schema` and reports the answer.
skein::mcp::tool elicitation_tool(std::string name, std::string description, std::string message,
                                  json schema, std::string prefix) {
  return {std::move(name), std::move(description), no_args(),
          [message, schema, prefix](tool_call& call, const tool_event& ev) {
            if (step(call) == 0) {
              if (!call.client_supports("elicitation"))
                return call.finish_text("Client does not support elicitation", true);
              next_step(call);
              return call.elicit(message, schema);
            }
            call.finish_text(prefix + describe_elicitation(ev));
          }};
}

skein::mcp::server build() {
  skein::mcp::server s{"skein-mcp-everything", "1.0.0"};
  s.instructions("skein's MCP everything server: the conformance suite's tools, resources and prompts.");

  // ---- tools -----------------------------------------------------------------
  s.add({"test_simple_text", "Returns a simple text response", no_args(),
         [](tool_call& call, const tool_event&) {
           call.finish_text("This is a simple text response for testing.");
         }});
  s.add({"test_image_content", "Returns an image (1x1 red PNG)", no_args(),
         [](tool_call& call, const tool_event&) {
           call.finish(content_result(json::array(
             {{{"type", "image"}, {"data", png_1x1}, {"mimeType", "image/png"}}})));
         }});
  s.add({"test_audio_content", "Returns audio (WAV)", no_args(),
         [](tool_call& call, const tool_event&) {
           call.finish(content_result(json::array(
             {{{"type", "audio"}, {"data", wav_silence}, {"mimeType", "audio/wav"}}})));
         }});
  s.add({"test_embedded_resource", "Returns an embedded resource", no_args(),
         [](tool_call& call, const tool_event&) {
           call.finish(content_result(json::array(
             {{{"type", "resource"},
               {"resource",
                {{"uri", "test://embedded-resource"},
                 {"mimeType", "text/plain"},
                 {"text", "This is an embedded resource content."}}}}})));
         }});
  s.add({"test_multiple_content_types", "Returns text, an image and a resource", no_args(),
         [](tool_call& call, const tool_event&) {
           call.finish(content_result(json::array(
             {{{"type", "text"}, {"text", "Multiple content types test:"}},
              {{"type", "image"}, {"data", png_1x1}, {"mimeType", "image/png"}},
              {{"type", "resource"},
               {"resource",
                {{"uri", "test://mixed-content-resource"},
                 {"mimeType", "application/json"},
                 {"text", "{\"test\":\"data\",\"value\":123}"}}}}})));
         }});
  s.add({"test_tool_with_logging", "Sends three log messages 50 ms apart", no_args(),
         [](tool_call& call, const tool_event&) {
           static const char* messages[] = {"Tool execution started", "Tool processing data",
                                            "Tool execution completed"};
           int n = step(call);
           call.log("info", messages[n], "conformance-test-server");
           if (n == 2) return call.finish_text("Tool with logging executed successfully");
           next_step(call);
           call.sleep(50);
         }});
  s.add({"test_tool_with_progress", "Reports progress 0, 50, 100 of 100, 50 ms apart", no_args(),
         [](tool_call& call, const tool_event&) {
           int n = step(call);
           call.progress(n * 50.0, 100.0);
           if (n == 2) return call.finish_text("Tool with progress executed successfully");
           next_step(call);
           call.sleep(50);
         }});
  s.add({"test_error_handling", "Always fails", no_args(),
         [](tool_call& call, const tool_event&) {
           call.finish_text("This tool intentionally returns an error for testing", true);
         }});
  s.add({"test_sampling", "Asks the client's LLM (sampling/createMessage)",
         string_arg("prompt", "The prompt to send to the LLM"),
         [](tool_call& call, const tool_event& ev) {
           if (step(call) == 0) {
             if (!call.client_supports("sampling"))
               return call.finish_text("Client does not support sampling", true);
             auto prompt = call.arguments().value("prompt", std::string{});
             next_step(call);
             return call.sample(
               {{"messages",
                 json::array({{{"role", "user"}, {"content", {{"type", "text"}, {"text", prompt}}}}})},
                {"maxTokens", 100}});
           }
           if (ev.what == tool_event::kind::error)
             return call.finish_text("Sampling failed: " + ev.value.value("message", std::string{}), true);
           auto content = ev.value.value("content", json::object());
           auto text = content.is_object() ? content.value("text", std::string{}) : content.dump();
           call.finish_text("LLM response: " + text);
         }});
  s.add({"test_elicitation", "Asks the user for input (elicitation/create)",
         string_arg("message", "The message to show the user"),
         [](tool_call& call, const tool_event& ev) {
           if (step(call) == 0) {
             if (!call.client_supports("elicitation"))
               return call.finish_text("Client does not support elicitation", true);
             next_step(call);
             return call.elicit(
               call.arguments().value("message", std::string("Please respond")),
               {{"type", "object"},
                {"properties", {{"response", {{"type", "string"}, {"description", "User's response"}}}}},
                {"required", json::array({"response"})}});
           }
           call.finish_text("User response: " + describe_elicitation(ev));
         }});
  s.add(elicitation_tool(
    "test_elicitation_sep1034_defaults", "Elicitation with defaults for every primitive type (SEP-1034)",
    "Please review and update the form fields with defaults",
    {{"type", "object"},
     {"properties",
      {{"name", {{"type", "string"}, {"description", "User name"}, {"default", "John Doe"}}},
       {"age", {{"type", "integer"}, {"description", "User age"}, {"default", 30}}},
       {"score", {{"type", "number"}, {"description", "User score"}, {"default", 95.5}}},
       {"status",
        {{"type", "string"},
         {"description", "User status"},
         {"enum", {"active", "inactive", "pending"}},
         {"default", "active"}}},
       {"verified", {{"type", "boolean"}, {"description", "Verification status"}, {"default", true}}}}},
     {"required", json::array()}},
    "Elicitation completed: "));
  s.add(elicitation_tool(
    "test_elicitation_sep1330_enums", "Elicitation with the five enum schema variants (SEP-1330)",
    "Please select options from the enum fields",
    {{"type", "object"},
     {"properties",
      {{"untitledSingle",
        {{"type", "string"}, {"description", "Untitled single-select"}, {"enum", {"option1", "option2", "option3"}}}},
       {"titledSingle",
        {{"type", "string"},
         {"description", "Titled single-select"},
         {"oneOf",
          {{{"const", "value1"}, {"title", "First Option"}},
           {{"const", "value2"}, {"title", "Second Option"}},
           {{"const", "value3"}, {"title", "Third Option"}}}}}},
       {"legacyEnum",
        {{"type", "string"},
         {"description", "Legacy titled enum"},
         {"enum", {"opt1", "opt2", "opt3"}},
         {"enumNames", {"Option One", "Option Two", "Option Three"}}}},
       {"untitledMulti",
        {{"type", "array"},
         {"description", "Untitled multi-select"},
         {"items", {{"type", "string"}, {"enum", {"option1", "option2", "option3"}}}}}},
       {"titledMulti",
        {{"type", "array"},
         {"description", "Titled multi-select"},
         {"items",
          {{"anyOf",
            {{{"const", "value1"}, {"title", "First Choice"}},
             {{"const", "value2"}, {"title", "Second Choice"}},
             {{"const", "value3"}, {"title", "Third Choice"}}}}}}}}}},
     {"required", json::array()}},
    "Elicitation completed: "));
  s.add({"json_schema_2020_12_tool", "Tool with JSON Schema 2020-12 features",
         {{"$schema", "https://json-schema.org/draft/2020-12/schema"},
          {"type", "object"},
          {"$defs",
           {{"address",
             {{"type", "object"},
              {"properties", {{"street", {{"type", "string"}}}, {"city", {{"type", "string"}}}}}}}}},
          {"properties", {{"name", {{"type", "string"}}}, {"address", {{"$ref", "#/$defs/address"}}}}},
          {"additionalProperties", false}},
         [](tool_call& call, const tool_event&) {
           call.finish_text("Received: " + call.arguments().dump());
         }});
  s.add({"test_reconnection",
         "Closes its SSE connection mid-call (SEP-1699 polling); the result arrives on the GET resume",
         no_args(),
         [](tool_call& call, const tool_event&) {
           call.close_stream(500);
           call.finish_text("Reconnection test completed successfully");
         }});

  s.add({"sleep", "Waits `ms` milliseconds (a session timer: survives the owner's loss), then answers",
         json{{"type", "object"},
              {"properties", {{"ms", {{"type", "integer"}, {"minimum", 1}, {"maximum", 600000}}}}},
              {"required", json::array({"ms"})}},
         [](tool_call& call, const tool_event&) {
           if (step(call) == 0) {
             const auto& ms = call.arguments().value("ms", json());
             if (!ms.is_number_integer() || ms.get<std::int64_t>() < 1 || ms.get<std::int64_t>() > 600000)
               return call.finish_text("ms must be an integer from 1 to 600000", true);
             next_step(call);
             return call.sleep(static_cast<std::uint32_t>(ms.get<std::int64_t>()));
           }
           call.finish_text("Slept " + call.arguments()["ms"].dump() + " ms");
         }});

  // ---- resources ---------------------------------------------------------------
  s.add(skein::mcp::resource{"test://static-text", "Static Text Resource",
                             "A static text resource for testing", "text/plain",
                             [](const std::string& uri) {
                               return json::array({{{"uri", uri},
                                                    {"mimeType", "text/plain"},
                                                    {"text", "This is the content of the static text resource."}}});
                             }});
  s.add(skein::mcp::resource{"test://static-binary", "Static Binary Resource",
                             "A static binary resource (image) for testing", "image/png",
                             [](const std::string& uri) {
                               return json::array({{{"uri", uri}, {"mimeType", "image/png"}, {"blob", png_1x1}}});
                             }});
  s.add(skein::mcp::resource{"test://watched-resource", "Watched Resource",
                             "A resource that can be subscribed to", "text/plain",
                             [](const std::string& uri) {
                               return json::array({{{"uri", uri},
                                                    {"mimeType", "text/plain"},
                                                    {"text", "Watched resource content"}}});
                             }});
  s.add(skein::mcp::resource_template{
    "test://template/{id}/data", "Resource Template", "A resource template with parameter substitution",
    "application/json", [](const std::string& uri, const std::map<std::string, std::string>& vars) {
      auto id = vars.at("id");
      json body{{"id", id}, {"templateTest", true}, {"data", "Data for ID: " + id}};
      return json::array({{{"uri", uri}, {"mimeType", "application/json"}, {"text", body.dump()}}});
    }});

  // ---- prompts -----------------------------------------------------------------
  auto user_text = [](std::string text) {
    return json{{"role", "user"}, {"content", {{"type", "text"}, {"text", std::move(text)}}}};
  };
  s.add(skein::mcp::prompt{"test_simple_prompt", "A simple prompt without arguments", {},
                           [user_text](const json&) {
                             return json{{"messages", json::array({user_text("This is a simple prompt for testing.")})}};
                           }});
  s.add(skein::mcp::prompt{
    "test_prompt_with_arguments", "A prompt with required arguments",
    {{"arg1", "First test argument", true}, {"arg2", "Second test argument", true}},
    [user_text](const json& args) {
      if (!args["arg1"].is_string() || !args["arg2"].is_string())
        throw std::invalid_argument("arg1 and arg2 must be strings");
      return json{{"messages", json::array({user_text("Prompt with arguments: arg1='"
                                                      + args["arg1"].get<std::string>() + "', arg2='"
                                                      + args["arg2"].get<std::string>() + "'")})}};
    }});
  s.add(skein::mcp::prompt{
    "test_prompt_with_embedded_resource", "A prompt with an embedded resource",
    {{"resourceUri", "URI of the resource to embed", true}},
    [user_text](const json& args) {
      if (!args["resourceUri"].is_string()) throw std::invalid_argument("resourceUri must be a string");
      return json{{"messages",
                   json::array({{{"role", "user"},
                                 {"content",
                                  {{"type", "resource"},
                                   {"resource",
                                    {{"uri", args["resourceUri"]},
                                     {"mimeType", "text/plain"},
                                     {"text", "Embedded resource content for testing."}}}}}},
                                user_text("Please process the embedded resource above.")})}};
    }});
  s.add(skein::mcp::prompt{"test_prompt_with_image", "A prompt with an image", {},
                           [user_text](const json&) {
                             return json{{"messages",
                                          json::array({{{"role", "user"},
                                                        {"content",
                                                         {{"type", "image"},
                                                          {"data", png_1x1},
                                                          {"mimeType", "image/png"}}}},
                                                       user_text("Please analyze the image above.")})}};
                           }});

  // ---- completion ----------------------------------------------------------------
  s.completion([](const json&, const json& argument, const json&) {
    static const char* words[] = {"paris", "park", "party", "test", "testing", "tested"};
    auto prefix = argument.value("value", std::string{});
    json values = json::array();
    for (auto* w : words)
      if (std::string(w).rfind(prefix, 0) == 0) values.push_back(w);
    return json{{"values", values}, {"total", values.size()}, {"hasMore", false}};
  });
  return s;
}

}  // namespace

const skein::mcp::server& mcp_everything::server() {
  static const skein::mcp::server s = build();
  return s;
}

}  // namespace examples
