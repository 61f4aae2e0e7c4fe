// The route table: every HTTP route group of a node, tried in order.
#include "net/detail.hpp"

namespace skein::net_detail {

const std::vector<route_fn>& routes() {
  static const std::vector<route_fn> table{
    cluster_routes,        // /healthz, /cluster, /cluster/placement
    websocket_route,
    sse_route,             // /sse/{kind}/{id}
    mcp_route,             // /mcp
    events_route,          // /cluster/events (SSE)
    metrics_route,         // /metrics
    admin_routes,          // /admin/drain, /admin/move
    dashboard_routes,      // /, /chat, /assets/*
  };
  return table;
}

}  // namespace skein::net_detail
