#pragma once
// Path patterns of the route table: "/api/reports/{kind}" is the segments "api", "reports" and
// the parameter "kind"; a parameter matches one non-empty segment.

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace ipfs_accel::server {

struct PathSegment {
  std::string text;  // the literal, or the parameter's name
  bool parameter = false;
};

std::vector<PathSegment> SplitPattern(std::string_view pattern);

// Whether `path` matches `pattern`; fills *params with the parameters' percent-decoded values.
bool MatchPattern(std::string_view pattern, std::string_view path,
                  std::map<std::string, std::string>* params);

// %XX escapes decoded ('+' kept: it means a space only in query strings); false when an escape is
// malformed.
bool PercentDecode(std::string_view text, std::string* out);

}  // namespace ipfs_accel::server
