#include "cli/stored_run.h"

namespace ipfs_accel::cli {

StoredRun::StoredRun(const DatabaseOption& db, const store::RunRecord& run)
    : db_(db), run_id_(run.run_id), path_(db.Path()) {
  db_.Open()->BeginRun(run);
}

void StoredRun::Store(store::RunResults::Entry entry, bool configuration) {
  store::RunResults part;
  part.run.run_id = run_id_;
  part.entries.push_back(std::move(entry));
  db_.Open()->AppendToRun(part);
  if (configuration) ++configurations_;
}

void StoredRun::Finish(const std::string& state) {
  if (finished_) return;
  finished_ = true;
  db_.Open()->FinishRun(run_id_, store::UtcNow(), state);
}

}  // namespace ipfs_accel::cli
