// `ctl --node URL status | drain NAME | move kind/id --to NAME`
// Admin requests carry the admin token (cli/admin_token.cpp: --token-file,
// SKEIN_ADMIN_TOKEN, or DATA/admin.token with --data).
// (`ctl rolling-restart --data DIR`: cli/rolling_restart.cpp)
#include <cctype>
#include <iostream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "actors/session_key.hpp"
#include "cli/commands.hpp"

namespace skein::cli {

namespace {

struct base_url {
  std::string host;
  std::uint16_t port = 0;
  http_tls tls;  // https://: verified against the system's trust store (SSL_CERT_FILE)
};

base_url parse_base(const std::string& url) {
  std::string rest = url;
  base_url out;
  if (rest.rfind("http://", 0) == 0) {
    rest = rest.substr(7);
  } else if (rest.rfind("https://", 0) == 0) {
    rest = rest.substr(8);
    out.tls.on = true;
  }
  auto slash = rest.find('/');
  if (slash != std::string::npos) rest = rest.substr(0, slash);
  auto colon = rest.rfind(':');
  if (colon == std::string::npos) throw std::invalid_argument("--node wants http(s)://HOST:PORT");
  out.host = rest.substr(0, colon);
  out.port = static_cast<std::uint16_t>(std::stoi(rest.substr(colon + 1)));
  return out;
}

std::string encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

}  // namespace

int run_ctl(const ctl_args& args) {
  if (args.command == "rolling-restart") return run_rolling_restart(args);
  auto base = parse_base(args.node);
  const auto token = ctl_admin_token(args);
  std::string body;
  int status = 0;
  if (args.command == "status") {
    status = http_request("GET", base.host, base.port, "/cluster", body, 5000, token, base.tls);
    if (status == 200) {
      auto j = nlohmann::json::parse(body, nullptr, false);
      if (j.is_object()) {
        for (auto& m : j["members"])
          std::cout << m.value("name", "") << "  " << m.value("state", "") << "  "
                    << m.value("url", "") << "  sessions " << m.value("sessions", 0)
                    << (m.value("connected", false) ? "" : "  (not connected)") << '\n';
        return 0;
      }
    }
  } else if (args.command == "drain") {
    if (args.name.empty()) throw std::invalid_argument("ctl drain NAME");
    status = http_request("POST", base.host, base.port, "/admin/drain?node=" + encode(args.name),
                          body, 10000, token, base.tls);
  } else {
    if (args.name.empty() || args.to.empty()) throw std::invalid_argument("ctl move kind/id --to NAME");
    if (!session_key::parse(args.name))
      throw std::invalid_argument("ctl move: bad session key: " + session_key::why_invalid(args.name));
    status = http_request("POST", base.host, base.port,
                          "/admin/move?key=" + encode(args.name) + "&to=" + encode(args.to), body,
                          10000, token, base.tls);
  }
  std::cout << body << '\n';
  if (status == 0) std::cerr << "ctl: no answer from " << args.node << '\n';
  if (status == 401 && token.empty())
    std::cerr << "ctl: the node wants the admin token: --token-file PATH, SKEIN_ADMIN_TOKEN, or --data DIR\n";
  return status >= 200 && status < 300 ? 0 : 1;
}

}  // namespace skein::cli
