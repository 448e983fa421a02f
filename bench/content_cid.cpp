// content_cid: how fast `models cid` computes a file's CID (content::ImportPath: pread() into a
// 256 KiB buffer per thread, SHA-256 through OpenSSL, chunks hashed on every core), against
// SHA-256 of the same bytes in one pass on one thread, from a file mapping and through read()
// (the floor for a single core), at CIDv0 and v1, 1 thread and all.
// The figures are the best of 3 (the first read brings the file into the page cache; a cold
// file is bounded by the disk instead), wall time and this process's CPU time (user + system):
// on a shared machine the wall time measures the others' load too, the CPU time this code.
//
// Usage: content_cid [BYTES=1000000000] [FILE]   (without FILE, a temporary file of BYTES)

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "ipfs_accel/content/sha256.h"
#include "ipfs_accel/content/unixfs.h"
#include "ipfs_accel/core/mapped_file.h"

using namespace ipfs_accel;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

void WriteFile(const fs::path& path, uint64_t size) {
  std::vector<uint64_t> block(1 << 17);  // 1 MiB of xorshift64 words at a time
  uint64_t x = 88172645463325252ull;
  std::ofstream out(path, std::ios::binary);
  for (uint64_t left = size; left > 0;) {
    for (auto& w : block) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      w = x;
    }
    const uint64_t n = std::min<uint64_t>(left, block.size() * 8);
    out.write(reinterpret_cast<const char*>(block.data()), static_cast<std::streamsize>(n));
    left -= n;
  }
}

double CpuSeconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

struct Seconds {
  double wall = 1e30, cpu = 1e30;
};

// The best wall and the best CPU time of `repeats` runs.
template <typename F>
Seconds Best(int repeats, F&& f) {
  Seconds best;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = Clock::now();
    const double c0 = CpuSeconds();
    f();
    best.cpu = std::min(best.cpu, CpuSeconds() - c0);
    best.wall = std::min(best.wall, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return best;
}

void Print(const std::string& what, Seconds s, double gb, const std::string& cid = "") {
  fmt::print("{:<38} wall {:7.3f} s {:6.2f} GB/s   cpu {:7.3f} s {:6.2f} GB/cpu-s  {}\n", what,
             s.wall, gb / s.wall, s.cpu, gb / s.cpu, cid);
}

}  // namespace

int main(int argc, char** argv) {
  const uint64_t bytes = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1000000000ull;
  fs::path path = argc > 2 ? fs::path(argv[2]) : fs::path();
  const bool temporary = path.empty();
  if (temporary) {
    path = fs::temp_directory_path() / fmt::format("content_cid_{}.bin", ::getpid());
    WriteFile(path, bytes);
  }
  const core::MappedFile file(path.string());
  const double gb = static_cast<double>(file.size()) / 1e9;
  fmt::print("file {} ({:.3f} GB), {} hardware threads\n", path.string(), gb,
             std::thread::hardware_concurrency());
  Print("sha256 of the mapped file, one thread",
        Best(3, [&] { content::Sha256().Update(file.text()).Final(); }), gb);
  // The same through read() into one 256 KiB buffer that stays in cache: what 4 KiB pages of a
  // file mapping cost against the kernel's copy (its direct map uses huge pages).
  Print("sha256 read() by 256 KiB, one thread",
        Best(3,
             [&] {
               std::ifstream in(path, std::ios::binary);
               std::vector<char> buf(content::kChunkSize);
               content::Sha256 sha;
               while (in.read(buf.data(), static_cast<std::streamsize>(buf.size())) ||
                      in.gcount() > 0)
                 sha.Update({buf.data(), static_cast<size_t>(in.gcount())});
               sha.Final();
             }),
        gb);
  for (int version : {0, 1}) {
    for (unsigned threads : {1u, 0u}) {
      content::Imported r;
      const Seconds s = Best(3, [&] {
        r = content::ImportPath(path.string(), {.cid_version = version, .threads = threads}).root;
      });
      Print(fmt::format("CIDv{}, {} thread(s)", version,
                        threads ? std::to_string(threads) : std::string("all")),
            s, gb, r.cid.ToString());
    }
  }
  if (temporary) fs::remove(path);
  return 0;
}
