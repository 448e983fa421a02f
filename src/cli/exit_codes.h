#pragma once
// Exit statuses scripts can rely on (also listed in README.md).

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitCheckFailed = 1,  // verify mismatch; some benchmark configurations failed
  kExitUsage = 2,        // bad command line or invalid argument
  kExitNotFound = 3,
  kExitCorrupt = 4,
  kExitUnsupported = 5,
  kExitUnavailable = 6,  // platform / execution provider not present here
  kExitDatabase = 7,
  kExitIo = 8,
  kExitRuntime = 9,
  kExitInternal = 10,
};

inline int ExitCodeFor(core::ErrorKind kind) {
  switch (kind) {
    case core::ErrorKind::kInvalidArgument:
      return kExitUsage;
    case core::ErrorKind::kNotFound:
      return kExitNotFound;
    case core::ErrorKind::kCorrupt:
      return kExitCorrupt;
    case core::ErrorKind::kUnsupported:
      return kExitUnsupported;
    case core::ErrorKind::kUnavailable:
      return kExitUnavailable;
    case core::ErrorKind::kDatabase:
      return kExitDatabase;
    case core::ErrorKind::kIo:
      return kExitIo;
    case core::ErrorKind::kRuntime:
      return kExitRuntime;
    case core::ErrorKind::kInternal:
      return kExitInternal;
  }
  return kExitInternal;
}

}  // namespace ipfs_accel::cli
