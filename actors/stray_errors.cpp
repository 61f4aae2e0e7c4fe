#include "actors/stray_errors.hpp"

#include <string>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

namespace skein {

void log_stray_errors(caf::scheduled_actor* self, stray_error_log& log) {
  self->set_error_handler([log = &log](caf::scheduled_actor* self, caf::error& err) {
    const auto n = log->count.fetch_add(1, std::memory_order_relaxed) + 1;
    if ((n & (n - 1)) != 0) return;
    const auto& from = self->current_sender();
    spdlog::warn("{}: error message #{} from {}: {}", log->who, n,
                 from ? caf::to_string(from->node()) : std::string("?"),
                 self->system().render(err));
  });
}

}  // namespace skein
