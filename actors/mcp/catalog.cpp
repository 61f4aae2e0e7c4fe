// The catalog of an MCP server: what it offers (tools, resources, resource
// templates, prompts, completion), how it is built, looked up and listed.
// Read-only once built; see server.hpp.
#include "actors/mcp/server.hpp"
#include "actors/mcp/uri_template.hpp"

namespace skein::mcp {

server::server(std::string name, std::string version)
  : name_(std::move(name)), version_(std::move(version)) {}

server& server::instructions(std::string text) {
  instructions_ = std::move(text);
  return *this;
}
server& server::add(tool t) {
  tools_.push_back(std::move(t));
  return *this;
}
server& server::add(resource r) {
  resources_.push_back(std::move(r));
  return *this;
}
server& server::add(resource_template t) {
  templates_.push_back(std::move(t));
  return *this;
}
server& server::add(prompt p) {
  prompts_.push_back(std::move(p));
  return *this;
}
server& server::completion(completion_handler h) {
  completion_ = std::move(h);
  return *this;
}

const tool* server::find_tool(std::string_view name) const {
  for (auto& t : tools_)
    if (t.name == name) return &t;
  return nullptr;
}

const prompt* server::find_prompt(std::string_view name) const {
  for (auto& p : prompts_)
    if (p.name == name) return &p;
  return nullptr;
}

std::optional<json> server::read_resource(const std::string& uri) const {
  for (auto& r : resources_)
    if (r.uri == uri) return r.read(uri);
  for (auto& t : templates_) {
    std::map<std::string, std::string> vars;
    if (match_uri_template(t.uri_template, uri, vars)) return t.read(uri, vars);
  }
  return std::nullopt;
}

json server::tools_json() const {
  json out = json::array();
  for (auto& t : tools_) {
    json j{{"name", t.name}, {"description", t.description}, {"inputSchema", t.input_schema}};
    if (!t.title.empty()) j["title"] = t.title;
    if (!t.annotations.is_null()) j["annotations"] = t.annotations;
    if (!t.output_schema.is_null()) j["outputSchema"] = t.output_schema;
    out.push_back(std::move(j));
  }
  return out;
}

json server::resources_json() const {
  json out = json::array();
  for (auto& r : resources_) {
    json j{{"uri", r.uri}, {"name", r.name}, {"description", r.description}};
    if (!r.mime_type.empty()) j["mimeType"] = r.mime_type;
    out.push_back(std::move(j));
  }
  return out;
}

json server::templates_json() const {
  json out = json::array();
  for (auto& t : templates_) {
    json j{{"uriTemplate", t.uri_template}, {"name", t.name}, {"description", t.description}};
    if (!t.mime_type.empty()) j["mimeType"] = t.mime_type;
    out.push_back(std::move(j));
  }
  return out;
}

json server::prompts_json() const {
  json out = json::array();
  for (auto& p : prompts_) {
    json j{{"name", p.name}, {"description", p.description}};
    if (!p.arguments.empty()) {
      json args = json::array();
      for (auto& a : p.arguments)
        args.push_back({{"name", a.name}, {"description", a.description}, {"required", a.required}});
      j["arguments"] = std::move(args);
    }
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace skein::mcp
