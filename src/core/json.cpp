#include "ipfs_accel/core/json.h"

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/core/file_access.h"

namespace ipfs_accel::core {

namespace {
struct TooDeep {};
}  // namespace

std::string JsonErrorText(const std::exception& e) {
  std::string_view text = e.what();
  if (text.rfind("[json.exception.", 0) == 0) {
    const size_t end = text.find("] ");
    if (end != std::string_view::npos) text.remove_prefix(end + 2);
  }
  // nlohmann quotes the token it stopped at, which may be a megabyte of the file.
  constexpr size_t kMax = 240;
  if (text.size() > kMax) return std::string(text.substr(0, kMax)) + "...";
  return std::string(text);
}

std::string JsonExcerpt(const nlohmann::json& value) {
  std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return text.size() > 40 ? text.substr(0, 37) + "..." : text;
}

nlohmann::json ParseJson(std::string_view text, std::string_view source) {
  // The parser's callback sees each value's depth before the value is stored.
  const nlohmann::json::parser_callback_t limit_depth =
      [](int depth, nlohmann::json::parse_event_t event, nlohmann::json&) {
        if (depth >= kMaxJsonDepth && (event == nlohmann::json::parse_event_t::object_start ||
                                       event == nlohmann::json::parse_event_t::array_start))
          throw TooDeep{};
        return true;
      };
  try {
    return nlohmann::json::parse(text.begin(), text.end(), limit_depth);
  } catch (const TooDeep&) {
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}' is not valid JSON here: it nests more than {} levels deep",
                            source, kMaxJsonDepth));
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}' is not valid JSON: {}", source, JsonErrorText(e)));
  }
}

nlohmann::json ReadJsonFile(const std::string& path) {
  return ParseJson(ReadRegularFile(path), path);
}

}  // namespace ipfs_accel::core
