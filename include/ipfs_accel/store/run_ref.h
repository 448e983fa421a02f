#pragma once
// Naming a stored run the way a user types it: the whole run id, a unique prefix of it (as git
// takes a commit prefix), "latest" (the run that started last), or "latest~N" (N runs before
// it). Every command that takes a run resolves it here, so all accept the same forms and
// answer with the same errors.

#include <optional>
#include <string>

#include "ipfs_accel/store/result_store.h"

namespace ipfs_accel::store {

// A run id prefix must be at least this long (shorter ones match too much to be meant).
inline constexpr size_t kMinRunIdPrefix = 4;
// Runs are shown by this many leading characters of their id (`runs list`, reports).
inline constexpr size_t kShortRunIdLength = 8;

// The run id `ref` names. Throws core::Error:
//  kNotFound        no run id is or starts with `ref`; "latest" with no runs stored
//  kInvalidArgument a prefix several run ids start with (the message lists them); latest~N
//                   beyond the runs stored; latest~ without a whole number; an empty ref or a
//                   prefix shorter than kMinRunIdPrefix that is not a whole id
std::string ResolveRunRef(ResultStore& store, const std::string& ref);

// As ResolveRunRef, but nullopt where `ref` is not of a run-ref form or matches no run (for refs
// that may also name branches or commits). Still throws for an ambiguous prefix or a latest~N
// beyond the runs stored.
std::optional<std::string> FindRunRef(ResultStore& store, const std::string& ref);

// Whether a run of exactly this id is stored.
bool RunIsStored(ResultStore& store, const std::string& run_id);

}  // namespace ipfs_accel::store
