#pragma once
// `benchmark --push URL --token-file F`: a stored run sent to another machine's `serve` as
// POST URL/api/runs, in the run export `db export --format run-json` writes, with the server's
// bearer token. Plain http only (cpp-httplib is built here without TLS): push across a trusted
// network or through a tunnel.

#include <cstddef>
#include <string>

#include "cli/commands.h"

namespace ipfs_accel::cli {

struct PushTarget {
  std::string host;
  int port = 80;
  std::string path;  // the endpoint: the URL's path + "/api/runs"
  std::string token;
};

// Checks the URL (http://HOST[:PORT][/PREFIX]) and reads the token file. Throws core::Error:
// kInvalidArgument naming the URL, kUnsupported for https, and what server::ReadTokenFile
// throws.
PushTarget ParsePushTarget(const std::string& url, const std::string& token_file);

struct PushOutcome {
  size_t stored = 0, duplicates = 0;  // runs, as the server counted them
};

// Sends run `run_id` of `db`. Throws core::Error: kIo when the server cannot be reached or
// answers something that is not the endpoint's, kUnavailable for a refusal (its status and
// the server's one-line error), each naming the URL and saying the run stays stored here.
PushOutcome PushStoredRun(const DatabaseOption& db, const std::string& run_id,
                          const PushTarget& target);

}  // namespace ipfs_accel::cli
