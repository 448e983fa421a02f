#pragma once
// Why serving refused or dropped a request that was itself well formed: the queue was full,
// its deadline passed, the server is stopping, or the device's memory is held by sessions that
// are busy. Each is a core::Error (kUnavailable) with one line for the user; reason() tells
// the caller which, so an HTTP layer can answer 503 (kQueueFull, kStopped, kBusy) or 408
// (kDeadline) without parsing messages.

#include <string>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::serving {

enum class RefusalReason { kQueueFull, kDeadline, kStopped, kBusy };

// "queue_full", "deadline", "stopped", "busy": for logs, JSON and metric labels.
const char* RefusalReasonName(RefusalReason reason);

class ServingError : public core::Error {
 public:
  ServingError(RefusalReason reason, const std::string& message)
      : core::Error(core::ErrorKind::kUnavailable, message), reason_(reason) {}
  RefusalReason reason() const { return reason_; }

 private:
  RefusalReason reason_;
};

}  // namespace ipfs_accel::serving
