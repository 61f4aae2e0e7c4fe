// The route table: every HTTP route group of a node, tried in order.
#include "net/detail.hpp"

namespace skein::net_detail {

const std::vector<route_fn>& routes() {
  static const std::vector<route_fn> table{
    cluster_routes,
    websocket_route,
    admin_routes,          // /admin/drain, /admin/move
  };
  return table;
}

}  // namespace skein::net_detail
