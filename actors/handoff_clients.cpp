// The clients a handoff carries, parsed (actors/handoff_clients.hpp).
#include "actors/handoff_clients.hpp"

#include "actors/json_shallow.hpp"

namespace skein {

std::optional<std::vector<handoff_client>> parse_handoff_clients(const std::string& text,
                                                                 std::string* why) {
  auto fail = [why](const char* reason) -> std::optional<std::vector<handoff_client>> {
    if (why) *why = reason;
    return std::nullopt;
  };
  if (text.size() > (1u << 20)) return fail("over 1 MiB");
  bool too_deep = false;  // an array of flat objects: depth 2 at most
  auto arr = parse_shallow(text, 2, too_deep);
  if (too_deep) return fail("nested below its entries");
  if (!arr.is_array()) return fail("not a JSON array");
  std::vector<handoff_client> out;
  out.reserve(arr.size());
  for (const auto& c : arr) {
    if (!c.is_object()) return fail("an entry is not an object");
    auto id = c.find("id"), params = c.find("params"), token = c.find("token");
    if (id == c.end() || !id->is_string() || id->get_ref<const std::string&>().empty()
        || id->get_ref<const std::string&>().size() > 256)
      return fail("an entry's id is not a string of 1-256 bytes");
    if (params == c.end() || !params->is_string()) return fail("an entry's params is not a string");
    if (token == c.end() || !token->is_number_unsigned())
      return fail("an entry's token is not an unsigned integer");
    out.push_back({id->get<std::string>(), params->get<std::string>(), token->get<std::uint64_t>()});
  }
  return out;
}

}  // namespace skein

