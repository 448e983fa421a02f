#include "ipfs_accel/content/gateway.h"

#include <httplib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "ipfs_accel/content/car.h"
#include "ipfs_accel/content/unixfs_extract.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/core/mapped_file.h"
#include "ipfs_accel/core/removed_at_exit.h"

namespace ipfs_accel::content {

namespace {

using core::Error;
using core::ErrorKind;

constexpr size_t kErrorBodyBytes = 4096;  // of a refusal's body, for its first line

std::string FirstLine(const std::string& text) {
  const std::string line = text.substr(0, text.find('\n'));
  return line.empty() ? "no message" : line;
}

// GETs the CAR of `cid` into `car_path`; answers its size. Throws kUnavailable.
int64_t DownloadCar(const core::HttpUrl& gateway, const Cid& cid, const std::string& car_path,
                    const GatewayFetchOptions& options) {
  httplib::Client client(gateway.host, gateway.port);
  const auto seconds = std::chrono::duration<double>(options.timeout_s);
  client.set_connection_timeout(std::chrono::duration_cast<std::chrono::microseconds>(seconds));
  client.set_read_timeout(std::chrono::duration_cast<std::chrono::microseconds>(seconds));
  const std::string target = fmt::format("{}/ipfs/{}?format=car", gateway.prefix, cid.ToString());
  const std::string url = fmt::format("http://{}:{}{}", gateway.host, gateway.port, target);
  std::ofstream out(car_path, std::ios::binary | std::ios::trunc);
  if (!out) throw Error(ErrorKind::kIo, fmt::format("cannot write {}", car_path));
  int status = 0;
  std::string refusal;
  int64_t bytes = 0;
  const auto answer = client.Get(
      target, {{"Accept", "application/vnd.ipld.car"}},
      [&](const httplib::Response& r) {
        status = r.status;
        return true;
      },
      [&](const char* data, size_t length) {
        if (status != 200) {
          refusal.append(data, std::min(length, kErrorBodyBytes - refusal.size()));
          return refusal.size() < kErrorBodyBytes;
        }
        out.write(data, static_cast<std::streamsize>(length));
        bytes += static_cast<int64_t>(length);
        return static_cast<bool>(out);
      });
  out.close();
  if (!answer && status == 0)
    throw Error(ErrorKind::kUnavailable, fmt::format("fetching {} failed: {}; check the gateway "
                                                     "address and that it is running",
                                                     url, httplib::to_string(answer.error())));
  if (status != 200)
    throw Error(ErrorKind::kUnavailable,
                fmt::format("the gateway answered {} for {}: {}", status, url, FirstLine(refusal)));
  if (!answer || !out)
    throw Error(ErrorKind::kIo,
                fmt::format("the answer of {} could not be saved to {}", url, car_path));
  return bytes;
}

}  // namespace

GatewayFetched FetchFromGateway(const core::HttpUrl& gateway, const Cid& cid,
                                const std::string& out_path, const GatewayFetchOptions& options) {
  if (std::filesystem::exists(out_path))
    throw Error(
        ErrorKind::kInvalidArgument,
        fmt::format("{} exists; give a new path for what {} names", out_path, cid.ToString()));
  // The answer, removed however the fetch ends.
  const core::RemovedAtExit car(fmt::format("{}.{}.car.partial", out_path, ::getpid()));
  GatewayFetched fetched;
  fetched.car_bytes = DownloadCar(gateway, cid, car.path().string(), options);
  const core::MappedFile file(car.path().string());
  const std::string name = fmt::format("the gateway's answer for {}", cid.ToString());
  CarReader reader(file.text(), name);
  if (reader.roots().empty() || !(reader.roots()[0] == cid))
    throw Error(ErrorKind::kCorrupt,
                fmt::format("{} has root {}, not the CID asked for", name,
                            reader.roots().empty() ? "none" : reader.roots()[0].ToString()));
  BlockSet blocks;
  while (const auto block = reader.Next()) {
    blocks.Add(*block);
    ++fetched.blocks;
  }
  ExtractUnixfs(blocks, cid, out_path);
  return fetched;
}

}  // namespace ipfs_accel::content
