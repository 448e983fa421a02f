#pragma once
// Test helper for the content layer: files of deterministic bytes and the reference programs
// (Debian's ipfs_cid, the JavaScript importer under Node.js) run on them.

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace ipfs_accel::testing {

// `size` bytes of a xorshift stream from `seed`, written to `path`.
inline void WriteDeterministicFile(const std::filesystem::path& path, uint64_t size,
                                   uint64_t seed = 1) {
  std::string bytes(size, '\0');
  uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
  for (uint64_t i = 0; i < size; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    bytes[i] = static_cast<char>(x >> 56);
  }
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(size));
}

// stdout of a shell command; *ok is false when it exits non-zero.
inline std::string RunCapture(const std::string& cmd, bool* ok) {
  std::string out;
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr) {
    *ok = false;
    return out;
  }
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, pipe)) > 0;) out.append(buf, n);
  *ok = ::pclose(pipe) == 0;
  return out;
}

inline std::string Quoted(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

inline std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace ipfs_accel::testing
