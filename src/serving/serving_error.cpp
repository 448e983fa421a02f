#include "ipfs_accel/serving/serving_error.h"

namespace ipfs_accel::serving {

const char* RefusalReasonName(RefusalReason reason) {
  switch (reason) {
    case RefusalReason::kQueueFull:
      return "queue_full";
    case RefusalReason::kDeadline:
      return "deadline";
    case RefusalReason::kStopped:
      return "stopped";
    case RefusalReason::kBusy:
      return "busy";
  }
  return "unknown";
}

}  // namespace ipfs_accel::serving
