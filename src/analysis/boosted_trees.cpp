#include "ipfs_accel/analysis/boosted_trees.h"

#include <xgboost/c_api.h>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::analysis {

using core::Error;
using core::ErrorKind;

namespace {

void Check(int status, const char* what, ErrorKind kind = ErrorKind::kInternal) {
  if (status != 0) throw Error(kind, fmt::format("XGBoost: {}: {}", what, XGBGetLastError()));
}

// A row-major matrix of `x` as XGBoost reads it; frees it on scope exit.
class Matrix {
 public:
  explicit Matrix(const std::vector<std::vector<float>>& x) {
    if (x.empty() || x[0].empty())
      throw Error(ErrorKind::kInvalidArgument, "boosted trees: no rows or no features");
    const size_t width = x[0].size();
    std::vector<float> flat;
    flat.reserve(x.size() * width);
    for (const auto& row : x) {
      if (row.size() != width)
        throw Error(
            ErrorKind::kInvalidArgument,
            fmt::format("boosted trees: a row of {} features among rows of {}", row.size(), width));
      flat.insert(flat.end(), row.begin(), row.end());
    }
    Check(XGDMatrixCreateFromMat(flat.data(), x.size(), width, std::nanf(""), &handle_),
          "cannot make a matrix");
  }
  ~Matrix() { XGDMatrixFree(handle_); }
  Matrix(const Matrix&) = delete;
  Matrix& operator=(const Matrix&) = delete;
  DMatrixHandle get() const { return handle_; }

 private:
  DMatrixHandle handle_ = nullptr;
};

void SetParam(BoosterHandle b, const char* name, const std::string& value) {
  Check(XGBoosterSetParam(b, name, value.c_str()), name);
}

}  // namespace

BoostedTrees BoostedTrees::Fit(const std::vector<std::vector<float>>& x,
                               const std::vector<float>& y, const Params& p) {
  if (x.size() != y.size())
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("boosted trees: {} rows for {} targets", x.size(), y.size()));
  const Matrix m(x);
  Check(XGDMatrixSetFloatInfo(m.get(), "label", y.data(), y.size()), "cannot set the labels");
  BoosterHandle b = nullptr;
  DMatrixHandle train[] = {m.get()};
  Check(XGBoosterCreate(train, 1, &b), "cannot make a booster");
  BoostedTrees trees(b);
  SetParam(b, "objective", "reg:squarederror");
  SetParam(b, "tree_method", "hist");
  SetParam(b, "max_depth", std::to_string(p.max_depth));
  SetParam(b, "eta", fmt::format("{}", p.eta));
  SetParam(b, "subsample", fmt::format("{}", p.subsample));
  SetParam(b, "min_child_weight", fmt::format("{}", p.min_child_weight));
  SetParam(b, "seed", std::to_string(p.seed));
  SetParam(b, "nthread", "1");  // one thread: the same trees on every machine and run
  SetParam(b, "verbosity", "0");
  for (int i = 0; i < p.rounds; ++i) Check(XGBoosterUpdateOneIter(b, i, m.get()), "training");
  return trees;
}

BoostedTrees BoostedTrees::Load(const std::string& json) {
  BoosterHandle b = nullptr;
  Check(XGBoosterCreate(nullptr, 0, &b), "cannot make a booster");
  BoostedTrees trees(b);
  Check(XGBoosterLoadModelFromBuffer(b, json.data(), json.size()),
        "cannot read the stored model; train it again with predict --train", ErrorKind::kCorrupt);
  return trees;
}

BoostedTrees::BoostedTrees(BoostedTrees&& other) noexcept : booster_(other.booster_) {
  other.booster_ = nullptr;
}

BoostedTrees& BoostedTrees::operator=(BoostedTrees&& other) noexcept {
  if (this != &other) {
    if (booster_ != nullptr) XGBoosterFree(booster_);
    booster_ = other.booster_;
    other.booster_ = nullptr;
  }
  return *this;
}

BoostedTrees::~BoostedTrees() {
  if (booster_ != nullptr) XGBoosterFree(booster_);
}

std::vector<double> BoostedTrees::Predict(const std::vector<std::vector<float>>& x) const {
  const Matrix m(x);
  bst_ulong n = 0;
  const float* out = nullptr;
  Check(XGBoosterPredict(booster_, m.get(), 0, 0, 0, &n, &out), "prediction");
  return std::vector<double>(out, out + n);
}

std::string BoostedTrees::Save() const {
  bst_ulong n = 0;
  const char* out = nullptr;
  Check(XGBoosterSaveModelToBuffer(booster_, R"({"format": "json"})", &n, &out), "saving");
  return std::string(out, n);
}

std::string BoostedTrees::LibraryVersion() {
  int major = 0, minor = 0, patch = 0;
  XGBoostVersion(&major, &minor, &patch);
  return fmt::format("xgboost {}.{}.{}", major, minor, patch);
}

}  // namespace ipfs_accel::analysis
