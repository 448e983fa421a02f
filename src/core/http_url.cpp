#include "ipfs_accel/core/http_url.h"

#include <regex>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::core {

std::string HttpUrl::ToString() const { return fmt::format("http://{}:{}{}", host, port, prefix); }

HttpUrl ParseHttpUrl(const std::string& url, const std::string& what) {
  if (url.rfind("https://", 0) == 0)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("https is not supported by this build ({}); reach {} over http on a "
                            "trusted network or through a tunnel",
                            url, what));
  static const std::regex kUrl(
      R"(http://([A-Za-z0-9.\-]+|\[[0-9A-Fa-f:]+\])(:(\d{1,5}))?(/[^?#]*)?)");
  std::smatch m;
  if (!std::regex_match(url, m, kUrl))
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("'{}' is not http://HOST[:PORT][/PREFIX] ({})", url, what));
  HttpUrl out;
  out.host = m[1].str();
  if (m[3].matched) out.port = std::stoi(m[3].str());
  if (out.port < 1 || out.port > 65535)
    throw Error(ErrorKind::kInvalidArgument, fmt::format("{}: port out of range", url));
  out.prefix = m[4].str();
  while (!out.prefix.empty() && out.prefix.back() == '/') out.prefix.pop_back();
  return out;
}

}  // namespace ipfs_accel::core
