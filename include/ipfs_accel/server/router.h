#pragma once
// One request through the route table: find the route (404, or 405 naming the methods the
// path takes), check its parameters against the route's specs (400 with one line), check the
// bearer token where the route needs one (401; 403 when the server has none), run the handler,
// and turn what it throws into a status with a JSON body {"error": "...", "status": N}.
// Independent of HTTP sockets, so it is tested without a server.

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ipfs_accel/server/route.h"

namespace ipfs_accel::server {

struct RawRequest {
  std::string method = {}, path = {};  // path without the query string, not yet decoded
  std::vector<std::pair<std::string, std::string>> query = {};  // decoded, in order
  std::map<std::string, std::string> headers = {};              // names lower case
  std::string body = {};
  std::string remote_addr = {};
};

struct RouterOptions {
  // The bearer token routes with requires_token need; unset: they answer 403.
  std::optional<std::string> token = {};
};

Response Dispatch(const RouteTable& table, RawRequest request, const RouterOptions& options);

}  // namespace ipfs_accel::server
