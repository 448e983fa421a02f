#pragma once
// Fetching a UnixFS file or folder by CID from an IPFS trustless gateway
// (specs.ipfs.tech/http-gateways/trustless-gateway): GET {gateway}/ipfs/{cid}?format=car with
// Accept: application/vnd.ipld.car. The answer is saved to a temporary file beside the output,
// read with CarReader (every block checked against its CID before it is used), its root
// checked to be the CID asked for, and the DAG written out with ExtractUnixfs. Nothing is
// trusted from the gateway but bytes that hash to what was asked for.

#include <cstdint>
#include <string>

#include "ipfs_accel/content/cid.h"
#include "ipfs_accel/core/http_url.h"

namespace ipfs_accel::content {

struct GatewayFetchOptions {
  double timeout_s = 60;  // connect, and each read of the answer
};

struct GatewayFetched {
  int64_t car_bytes = 0;  // the answer's size
  size_t blocks = 0;      // blocks in it, each verified
};

// Writes the file or folder `cid` names to `out_path` (which must not exist). Throws
// core::Error: kUnavailable when the gateway cannot be reached or answers other than 200 (its
// status and first line), kCorrupt for an answer that is not a CAR of that root or holds a
// block that does not hash to its CID (named), and ExtractUnixfs's errors. On any error nothing
// is left at `out_path` and the temporary answer is removed.
GatewayFetched FetchFromGateway(const core::HttpUrl& gateway, const Cid& cid,
                                const std::string& out_path,
                                const GatewayFetchOptions& options = {});

}  // namespace ipfs_accel::content
