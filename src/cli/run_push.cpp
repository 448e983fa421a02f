#include "cli/run_push.h"

#include <httplib.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/core/http_url.h"
#include "ipfs_accel/server/auth.h"
#include "ipfs_accel/store/json_import.h"
#include "ipfs_accel/store/maintenance.h"

namespace ipfs_accel::cli {

namespace {

using core::Error;
using core::ErrorKind;

std::string Url(const PushTarget& t) {
  return fmt::format("http://{}:{}{}", t.host, t.port, t.path);
}

}  // namespace

PushTarget ParsePushTarget(const std::string& url, const std::string& token_file) {
  const core::HttpUrl u = core::ParseHttpUrl(url, "the server (as `serve` prints its address)");
  return {.host = u.host,
          .port = u.port,
          .path = u.prefix + "/api/runs",
          .token = server::ReadTokenFile(token_file)};
}

PushOutcome PushStoredRun(const DatabaseOption& db, const std::string& run_id,
                          const PushTarget& target) {
  std::string body;
  {
    const auto store = db.Open(/*read_only=*/true);
    body = store::RunResultsToJson(store::ReadStoredRun(*store, run_id)).dump();
  }
  httplib::Client client(target.host, target.port);
  client.set_connection_timeout(10, 0);
  client.set_read_timeout(120, 0);
  const std::string kept = fmt::format("run {} stays stored in {}", run_id, db.Path());
  const auto r = client.Post(target.path.c_str(), {{"Authorization", "Bearer " + target.token}},
                             body, "application/json");
  if (!r)
    throw Error(ErrorKind::kIo, fmt::format("pushing to {} failed: {}; {}", Url(target),
                                            httplib::to_string(r.error()), kept));
  const nlohmann::json answer = nlohmann::json::parse(r->body, nullptr, false);
  if (r->status != 200 && r->status != 201)
    throw Error(ErrorKind::kUnavailable,
                fmt::format("{} refused the run ({}: {}); {}", Url(target), r->status,
                            answer.is_object() ? answer.value("error", r->body) : r->body, kept));
  if (!answer.is_object() || !answer.contains("stored"))
    throw Error(ErrorKind::kIo, fmt::format("{} answered {} without the run counts; is it an "
                                            "ipfs-accelerate server? {}",
                                            Url(target), r->status, kept));
  return {answer["stored"].size(), answer.value("duplicates", nlohmann::json::array()).size()};
}

}  // namespace ipfs_accel::cli
