#pragma once
// A plain-http address as users give one to this tool (a results server to push to, an IPFS
// gateway to fetch from): http://HOST[:PORT][/PREFIX]. https is refused: this build's HTTP
// client has no TLS.

#include <string>

namespace ipfs_accel::core {

struct HttpUrl {
  std::string host;  // a name, an IPv4 address, or an IPv6 address in brackets
  int port = 80;
  std::string prefix;  // "" or "/a/b", no trailing slash

  std::string ToString() const;  // http://host:port/prefix
};

// Throws core::Error: kUnsupported for https (naming `what`, e.g. "the gateway"),
// kInvalidArgument for anything else that is not of the form above or a port out of range.
HttpUrl ParseHttpUrl(const std::string& url, const std::string& what);

}  // namespace ipfs_accel::core
