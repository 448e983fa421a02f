#include "runtime/ort_error.h"

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::runtime {

namespace {

// Where the C++ signature that follows a source location ends: after the parenthesis that
// closes its parameter list at depth 0, and whatever continues it there (" const", "::...",
// " [with T = ...]"); npos when `text` from `from` does not look like a signature.
size_t SignatureEnd(const std::string& text, size_t from) {
  int depth = 0;
  bool parameters = false;
  for (size_t i = from; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '(' || c == '[' || c == '<') ++depth;
    if (c == ')' || c == ']' || c == '>') --depth;
    if (depth < 0) return std::string::npos;
    if (c == '(' && depth == 1) parameters = true;
    if (depth != 0 || !parameters || (c != ')' && c != ']')) continue;
    size_t next = i + 1;
    while (next < text.size() && text[next] == ' ') ++next;
    if (text.compare(next, 5, "const") == 0) {
      i = next + 4;
      continue;
    }
    if (text.compare(next, 1, "[") == 0 || text.compare(next, 2, "::") == 0 ||
        text.compare(next, 1, "(") == 0)
      continue;
    return i + 1;
  }
  return std::string::npos;
}

// Removes "<path>/onnxruntime_src/<file>:<line> <signature> " wherever it occurs.
std::string WithoutSourceLocations(std::string text) {
  for (size_t at; (at = text.find("onnxruntime_src/")) != std::string::npos;) {
    size_t begin = text.rfind(' ', at);
    begin = begin == std::string::npos ? 0 : begin + 1;
    size_t end = text.find(' ', at);
    if (end == std::string::npos) return text.substr(0, begin);
    if (const size_t signature = SignatureEnd(text, end); signature != std::string::npos)
      end = signature;
    while (end < text.size() && text[end] == ' ') ++end;
    text.erase(begin, end - begin);
  }
  return text;
}

}  // namespace

std::string OrtErrorText(std::string_view what) {
  std::string text = WithoutSourceLocations(core::OneLine(what, 4096));
  constexpr std::string_view kRunning = "Non-zero status code returned while running ";
  constexpr std::string_view kName = " node. Name:'";
  constexpr std::string_view kStatus = "' Status Message: ";
  if (text.rfind(kRunning, 0) == 0) {
    const size_t name = text.find(kName), status = text.find(kStatus);
    if (name != std::string::npos && status != std::string::npos && name < status) {
      const std::string op = text.substr(kRunning.size(), name - kRunning.size());
      const std::string node = text.substr(name + kName.size(), status - name - kName.size());
      text = fmt::format("{} node{}: {}", op, node.empty() ? "" : " '" + node + "'",
                         text.substr(status + kStatus.size()));
    }
  }
  return core::OneLine(text);
}

}  // namespace ipfs_accel::runtime
