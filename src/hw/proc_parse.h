#pragma once
// Parsers for the text the kernel and tools hand us (/proc, /sys, /etc/os-release,
// `chromium --version`). They take strings, not paths, so tests can feed them literals.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ipfs_accel::hw::detail {

// The whole file, or nullopt when it cannot be opened. /proc and /sys files report size 0,
// so this reads until EOF instead of trusting the size.
std::optional<std::string> ReadTextFile(const std::string& path);

std::string_view Trim(std::string_view text);
std::vector<std::string> SplitWords(std::string_view text);

// A sysfs cache size: "48K", "2048K", "32M", "1G", or a plain byte count. nullopt if malformed.
std::optional<int64_t> ParseCacheSize(std::string_view text);

// /proc/cpuinfo: one key/value map per blank-line-separated block ("processor", "flags", ...).
using CpuinfoBlock = std::map<std::string, std::string>;
std::vector<CpuinfoBlock> ParseCpuinfo(std::string_view text);

// /proc/meminfo: the value of `key` ("MemTotal") in bytes; the file states kB.
std::optional<int64_t> ParseMeminfoBytes(std::string_view text, std::string_view key);

// os-release(5): the value of `key` with shell quoting removed; "" if absent.
std::string ParseOsReleaseValue(std::string_view text, std::string_view key);

// "Chromium 156.0.8078.108 built on Debian" -> "156.0.8078.108"; "" if there is no version.
std::string ParseChromiumVersion(std::string_view output);

}  // namespace ipfs_accel::hw::detail
