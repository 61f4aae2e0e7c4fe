#include "runtime/stray_errors.hpp"

#include <cstdint>
#include <memory>
#include <string>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

namespace skein {

void log_stray_errors(caf::scheduled_actor* self, const char* who) {
  // CAF calls the handler as const: the count lives beside it.
  auto count = std::make_shared<std::uint64_t>(0);
  self->set_error_handler([self, who, count](caf::error& err) {
    const auto n = ++*count;
    if ((n & (n - 1)) != 0) return;
    const auto& from = self->current_sender();
    spdlog::warn("{}: error message #{} from {}: {}", who, n,
                 from ? caf::to_string(from->node()) : std::string("?"),
                 self->system().render(err));
  });
}

}  // namespace skein
