#include "ipfs_accel/core/error.h"

namespace ipfs_accel::core {

const char* ErrorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidArgument:
      return "invalid_argument";
    case ErrorKind::kNotFound:
      return "not_found";
    case ErrorKind::kCorrupt:
      return "corrupt";
    case ErrorKind::kUnsupported:
      return "unsupported";
    case ErrorKind::kUnavailable:
      return "unavailable";
    case ErrorKind::kDatabase:
      return "database";
    case ErrorKind::kIo:
      return "io";
    case ErrorKind::kRuntime:
      return "runtime";
    case ErrorKind::kInternal:
      return "internal";
  }
  return "unknown";
}

}  // namespace ipfs_accel::core
