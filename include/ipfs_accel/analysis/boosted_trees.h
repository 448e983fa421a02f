#pragma once
// Gradient-boosted regression trees through XGBoost's C API (Debian's libxgboost): fit on rows
// of features, predict, and save to / load from XGBoost's JSON model format so a trained model
// can be stored in the results database and used again. Training is deterministic for a seed.

#include <cstdint>
#include <string>
#include <vector>

namespace ipfs_accel::analysis {

class BoostedTrees {
 public:
  struct Params {
    int rounds = 300;
    int max_depth = 6;
    double eta = 0.05;
    double subsample = 0.8;
    double min_child_weight = 1;
    uint64_t seed = 42;
  };

  // Squared-error regression of `y` on the rows of `x` (each of the same width, > 0 rows).
  // Throws core::Error kInvalidArgument for ragged or empty input, kInternal when XGBoost fails.
  static BoostedTrees Fit(const std::vector<std::vector<float>>& x, const std::vector<float>& y,
                          const Params& params);
  // A model Save() wrote. Throws core::Error kCorrupt when XGBoost cannot read it.
  static BoostedTrees Load(const std::string& json);

  BoostedTrees(BoostedTrees&& other) noexcept;
  BoostedTrees& operator=(BoostedTrees&& other) noexcept;
  BoostedTrees(const BoostedTrees&) = delete;
  BoostedTrees& operator=(const BoostedTrees&) = delete;
  ~BoostedTrees();

  std::vector<double> Predict(const std::vector<std::vector<float>>& x) const;
  std::string Save() const;

  // "xgboost 1.7.4": the library this process loaded.
  static std::string LibraryVersion();

 private:
  explicit BoostedTrees(void* booster) : booster_(booster) {}
  void* booster_ = nullptr;
};

}  // namespace ipfs_accel::analysis
