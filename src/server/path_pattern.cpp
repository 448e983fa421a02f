#include "server/path_pattern.h"

namespace ipfs_accel::server {

namespace {

std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  size_t start = path.empty() || path.front() != '/' ? 0 : 1;
  while (start <= path.size()) {
    const size_t end = path.find('/', start);
    out.push_back(path.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::vector<PathSegment> SplitPattern(std::string_view pattern) {
  std::vector<PathSegment> out;
  for (std::string_view s : Segments(pattern)) {
    const bool parameter = s.size() > 2 && s.front() == '{' && s.back() == '}';
    out.push_back({std::string(parameter ? s.substr(1, s.size() - 2) : s), parameter});
  }
  return out;
}

bool PercentDecode(std::string_view text, std::string* out) {
  out->clear();
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out->push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return false;
    const int high = HexValue(text[i + 1]), low = HexValue(text[i + 2]);
    if (high < 0 || low < 0) return false;
    out->push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return true;
}

bool MatchPattern(std::string_view pattern, std::string_view path,
                  std::map<std::string, std::string>* params) {
  const std::vector<PathSegment> want = SplitPattern(pattern);
  const std::vector<std::string_view> got = Segments(path);
  if (want.size() != got.size()) return false;
  std::map<std::string, std::string> found;
  for (size_t i = 0; i < want.size(); ++i) {
    if (!want[i].parameter) {
      if (want[i].text != got[i]) return false;
      continue;
    }
    std::string value;
    if (got[i].empty() || !PercentDecode(got[i], &value)) return false;
    found[want[i].text] = std::move(value);
  }
  *params = std::move(found);
  return true;
}

}  // namespace ipfs_accel::server
