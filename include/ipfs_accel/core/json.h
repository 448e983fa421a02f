#pragma once
// JSON that comes from outside this program (config.json, shard indexes, safetensors headers,
// result files) is parsed here. Nesting deeper than kMaxJsonDepth is refused while parsing,
// before a node is built: a document nested 10^5 levels deep overflows the stack of whatever
// walks it recursively (copying, comparing, printing). Every failure, a syntax error or a
// number no double holds (1e400) alike, is one core::Error(kCorrupt) naming the source.

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace ipfs_accel::core {

// Deeper than any configuration or result file we read (they nest fewer than ten levels).
inline constexpr int kMaxJsonDepth = 128;

// Throws core::Error(kCorrupt): "'<source>' is not valid JSON: <what and where>".
nlohmann::json ParseJson(std::string_view text, std::string_view source);

// ReadRegularFile(path) then ParseJson; the file's errors are ReadRegularFile's.
nlohmann::json ReadJsonFile(const std::string& path);

// The message of a nlohmann exception without its "[json.exception.type.N] " prefix.
std::string JsonErrorText(const std::exception& e);

// A value as an error quotes it: its JSON text, at most 40 characters, whatever the file held.
std::string JsonExcerpt(const nlohmann::json& value);

}  // namespace ipfs_accel::core
