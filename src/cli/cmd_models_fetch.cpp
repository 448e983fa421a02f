// `models fetch CID --gateway URL`: a model file or folder by its CID from an IPFS trustless
// gateway, every block checked against its CID before a byte is written
// (content/gateway.h).

#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "ipfs_accel/content/gateway.h"
#include "ipfs_accel/core/http_url.h"

namespace ipfs_accel::cli {

namespace {

struct FetchOptions {
  std::string cid;
  std::string gateway;
  std::string output;
  double timeout_s = 60;
  bool json = false;
};

int RunFetch(const FetchOptions& o) {
  const content::Cid cid = content::ParseCid(o.cid);
  const core::HttpUrl gateway = core::ParseHttpUrl(o.gateway, "the gateway");
  const std::string out = o.output.empty() ? cid.ToString() : o.output;
  const content::GatewayFetched f =
      content::FetchFromGateway(gateway, cid, out, {.timeout_s = o.timeout_s});
  if (o.json) {
    std::cout << nlohmann::ordered_json{{"cid", cid.ToString()},
                                        {"gateway", gateway.ToString()},
                                        {"path", out},
                                        {"car_bytes", f.car_bytes},
                                        {"blocks_verified", f.blocks}}
                     .dump(2)
              << "\n";
  } else {
    std::cout << fmt::format(
        "{}: {} blocks ({} bytes) from {}, each checked against its CID, "
        "written to {}\n",
        cid.ToString(), f.blocks, f.car_bytes, gateway.ToString(), out);
  }
  return kExitOk;
}

}  // namespace

void AddModelsFetchCommand(CLI::App& models, CommandFn* selected) {
  auto* cmd = models.add_subcommand(
      "fetch",
      "A model file or folder by its CID from an IPFS trustless gateway (GET /ipfs/CID as a CAR):\n"
      "every block is checked against its CID and the root against the CID asked for before\n"
      "anything is written; a tampered or missing block is refused by name and nothing is left\n"
      "behind. Plain http only (a local node's gateway, e.g. http://127.0.0.1:8080).");
  auto o = std::make_shared<FetchOptions>();
  cmd->add_option("CID", o->cid, "the root CID (Qm... or bafy...)")->required();
  cmd->add_option("--gateway", o->gateway, "http://HOST[:PORT][/PREFIX] of the gateway")
      ->required();
  cmd->add_option(kOutputOptionName, o->output,
                  "where to write it (must not exist; default: ./CID)");
  cmd->add_option("--timeout", o->timeout_s, "seconds to connect, and for each read")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  AddFormatOption(cmd, &o->json);
  cmd->callback([selected, o] { *selected = [o] { return RunFetch(*o); }; });
}

}  // namespace ipfs_accel::cli
