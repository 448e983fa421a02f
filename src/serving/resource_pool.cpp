#include "ipfs_accel/serving/resource_pool.h"

#include <algorithm>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "ipfs_accel/analysis/memory_estimate.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/harness/benchmark.h"
#include "ipfs_accel/hw/hardware.h"
#include "ipfs_accel/models/precision.h"
#include "ipfs_accel/runtime/backend.h"
#include "ipfs_accel/serving/serving_error.h"
#include "request_inputs.h"

namespace ipfs_accel::serving {

using core::Error;
using core::ErrorKind;
using SystemClock = std::chrono::system_clock;

struct ResourcePool::Entry {
  std::string model, spec, platform, precision, device, placement;
  models::Model built;  // hints and dimension roles; the graph's bytes are dropped once open
  std::unique_ptr<runtime::Session> session;
  std::unique_ptr<DynamicBatcher> batcher;  // declared after the session: destroyed first
  int64_t bytes = 0;
  bool batchable = true;
  SystemClock::time_point loaded_at, last_used;  // shown
  Clock::time_point last_used_steady;            // compared (LRU): never goes back
  int leases = 0;  // requests holding it (guarded by the pool's mutex)
};

// Holds an entry in use: while any lease lives, the entry is not idle and is never evicted.
class ResourcePool::Lease {
 public:
  Lease(ResourcePool* pool, std::shared_ptr<Entry> entry) : pool_(pool), entry_(std::move(entry)) {
    ++entry_->leases;  // REQUIRES: pool->mutex_ held
  }
  Lease(Lease&& other) noexcept : pool_(other.pool_), entry_(std::move(other.entry_)) {}
  Lease& operator=(Lease&&) = delete;
  ~Lease() {
    if (!entry_) return;
    std::lock_guard lock(pool_->mutex_);
    --entry_->leases;
    entry_->last_used = SystemClock::now();
    entry_->last_used_steady = Clock::now();
  }
  Entry& operator*() const { return *entry_; }
  Entry* operator->() const { return entry_.get(); }

 private:
  ResourcePool* pool_;
  std::shared_ptr<Entry> entry_;
};

namespace {

std::string EntryKey(const std::string& model, const std::string& platform,
                     const std::string& precision) {
  return model + '\n' + platform + '\n' + precision;
}

std::string DeviceOf(const std::string& platform) {
  return platform == "cuda" || platform == "tensorrt" || platform == "rocm" ? "gpu" : "cpu";
}

std::string Utc(SystemClock::time_point t) {
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(SystemClock::to_time_t(t)));
}

// Whether every input and output has a free batch axis first, so requests can share runs.
bool Batchable(const runtime::Session& s) {
  for (const auto* specs : {&s.inputs(), &s.outputs()})
    for (const auto& spec : *specs)
      if (spec.shape.empty() || spec.shape[0] >= 0) return false;
  return true;
}

struct PoolFigure {
  analysis::MemoryEstimate estimate;
  std::map<std::string, core::Shape> shapes;
};

// The memory estimate at the batcher's largest batch and the planning sequence length.
PoolFigure EstimateFigure(const models::Model& m, int64_t max_batch, int64_t seq_len) {
  PoolFigure f;
  f.shapes = harness::CheckShapes(m, {{.batch_size = max_batch, .seq_len = seq_len}}).at(0);
  f.estimate = analysis::EstimateMemory(m, f.shapes);
  return f;
}

// Why a session cannot be opened within its device's budget even alone.
std::string TooLarge(const std::string& model, const std::string& platform,
                     const std::string& precision, const std::string& device, const PoolFigure& f,
                     int64_t budget, const PoolOptions& o) {
  if (budget < 0)
    return fmt::format(
        "model '{}' on {}: no memory budget for {} (NVML cannot say how much is "
        "free); give one",
        model, platform, device);
  return fmt::format(
      "model '{}' ({}) needs an estimated {} ({} weights + {} inputs + {} "
      "activations at {} rows, sequence {}), more than the whole {} budget of {}; "
      "serve it at a lower precision or raise the budget",
      model, precision, analysis::DescribeBytes(f.estimate.total_bytes),
      analysis::DescribeBytes(f.estimate.weights_bytes),
      analysis::DescribeBytes(f.estimate.inputs_bytes),
      analysis::DescribeBytes(f.estimate.activation_peak_bytes), o.batching.max_batch,
      o.planning_seq_len, device, analysis::DescribeBytes(budget));
}

std::map<std::string, int64_t> DefaultBudgets(std::map<std::string, int64_t> given) {
  if (!given.count("cpu")) given["cpu"] = hw::AvailableHostMemoryBytes();
  if (!given.count("gpu")) {
    const hw::NvidiaMemorySample s = hw::SampleNvidiaMemory(0);
    given["gpu"] =
        s.gpu_total_bytes > 0 && s.gpu_used_bytes >= 0 ? s.gpu_total_bytes - s.gpu_used_bytes : -1;
  }
  return given;
}

}  // namespace

ResourcePool::ResourcePool(const ModelRegistry& registry, PoolOptions options)
    : registry_(registry), options_(std::move(options)) {
  const BatcherOptions& b = options_.batching;
  if (b.max_batch < 1 || b.max_batch_delay_ms < 0 || b.max_queue == 0 ||
      options_.planning_seq_len < 1)
    throw Error(
        ErrorKind::kInvalidArgument,
        fmt::format("the pool needs max_batch >= 1, a batch delay >= 0, a queue of at "
                    "least 1 and a planning sequence length >= 1 (got {}, {} ms, {}, {})",
                    b.max_batch, b.max_batch_delay_ms, b.max_queue, options_.planning_seq_len));
  for (const auto& [device, bytes] : options_.memory_budget_bytes)
    if (bytes < 0)
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("the memory budget of {} is negative ({} bytes)", device, bytes));
  budgets_ = DefaultBudgets(options_.memory_budget_bytes);
  candidates_ = options_.platforms.empty() ? AvailableServingPlatforms() : options_.platforms;
  if (options_.hostname.empty()) options_.hostname = hw::DetectHost().hostname;
}

ResourcePool::~ResourcePool() { Stop(StopMode::kFail); }

int64_t ResourcePool::BudgetOf(const std::string& device) const {
  const auto it = budgets_.find(device);
  return it == budgets_.end() ? -1 : it->second;
}

std::optional<ResourcePool::Lease> ResourcePool::FindLoaded(const std::string& model,
                                                            const std::string& platform,
                                                            const std::string& precision) {
  std::lock_guard lock(mutex_);
  if (stopped_)
    throw ServingError(RefusalReason::kStopped,
                       "the server is stopping: the request was not run; retry elsewhere");
  std::string where = platform;
  if (where.empty()) {
    const auto placed = placements_.find(model + '\n' + precision);
    if (placed == placements_.end()) return std::nullopt;
    where = placed->second.platform;
  }
  const auto it = entries_.find(EntryKey(model, where, precision));
  if (it == entries_.end() || it->second->spec != registry_.Get(model).spec) return std::nullopt;
  return Lease(this, it->second);
}

ResourcePool::Lease ResourcePool::Acquire(const ModelSource& source, const std::string& platform,
                                          const std::string& precision) {
  if (auto lease = FindLoaded(source.name, platform, precision)) return std::move(*lease);
  std::lock_guard load(load_mutex_);
  if (auto lease = FindLoaded(source.name, platform, precision)) return std::move(*lease);
  models::Model built =
      models::LoadModel(source.spec, {.seed = source.seed,
                                      .precision = models::ParsePrecision(precision),
                                      .max_weight_bytes = hw::AvailableHostMemoryBytes()});
  if (!platform.empty()) return Open(source, platform, precision, std::move(built), "requested");
  const Placement placed =
      PlaceByStoredResults(options_.results, built.info, precision, candidates_, options_.hostname);
  {
    std::lock_guard lock(mutex_);
    placements_[source.name + '\n' + precision] = placed;
  }
  if (auto lease = FindLoaded(source.name, placed.platform, precision)) return std::move(*lease);
  return Open(source, placed.platform, precision, std::move(built), placed.reason);
}

ResourcePool::Lease ResourcePool::Open(const ModelSource& source, const std::string& platform,
                                       const std::string& precision, models::Model built,
                                       const std::string& placement) {
  auto entry = std::make_shared<Entry>();
  entry->model = source.name;
  entry->spec = source.spec;
  entry->platform = platform;
  entry->precision = precision;
  entry->device = DeviceOf(platform);
  entry->placement = placement;
  const PoolFigure f =
      EstimateFigure(built, options_.batching.max_batch, options_.planning_seq_len);
  entry->bytes = f.estimate.total_bytes;
  const int64_t budget = BudgetOf(entry->device);
  if (budget < 0 || entry->bytes > budget) {
    std::lock_guard lock(mutex_);
    ++refused_too_large_;
    throw Error(ErrorKind::kUnavailable,
                TooLarge(entry->model, platform, precision, entry->device, f, budget, options_));
  }
  {
    std::vector<std::shared_ptr<Entry>> evicted;
    {
      std::lock_guard lock(mutex_);
      evicted = MakeRoom(*entry);
    }
  }  // the evicted sessions close here, outside the lock
  try {
    runtime::SessionOptions so = options_.session;
    so.platform = platform;
    entry->session = runtime::OpenSession(built, so);
  } catch (...) {
    ForgetReservation(*entry);
    throw;
  }
  entry->batchable = Batchable(*entry->session);
  BatcherOptions bo = options_.batching;
  if (!entry->batchable) bo.max_batch = 1;
  entry->batcher = std::make_unique<DynamicBatcher>(
      [s = entry->session.get()](const TensorMap& in) { return s->Run(in); }, bo);
  built.onnx_bytes = std::string();  // ORT holds its own copy
  entry->built = std::move(built);
  entry->loaded_at = entry->last_used = SystemClock::now();
  entry->last_used_steady = Clock::now();
  std::lock_guard lock(mutex_);
  entries_[EntryKey(entry->model, platform, precision)] = entry;
  ++loads_;
  return Lease(this, entry);
}

std::vector<std::shared_ptr<ResourcePool::Entry>> ResourcePool::MakeRoom(const Entry& incoming) {
  if (stopped_)
    throw ServingError(RefusalReason::kStopped, "the server is stopping: no model is loaded");
  const int64_t budget = BudgetOf(incoming.device);
  int64_t& used = used_[incoming.device];
  std::vector<std::shared_ptr<Entry>> evicted;
  while (used + incoming.bytes > budget) {
    auto lru = entries_.end();
    std::vector<std::string> busy;
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      const Entry& e = *it->second;
      if (e.device != incoming.device) continue;
      if (e.leases > 0)
        busy.push_back(fmt::format("{} on {}", e.model, e.platform));
      else if (lru == entries_.end() || e.last_used_steady < lru->second->last_used_steady)
        lru = it;
    }
    if (lru == entries_.end()) {
      ++refused_busy_;
      throw ServingError(
          RefusalReason::kBusy,
          fmt::format("no room for model '{}' (an estimated {}) in the {} budget of {}: {} is "
                      "held by sessions in use ({}); retry when they finish",
                      incoming.model, analysis::DescribeBytes(incoming.bytes), incoming.device,
                      analysis::DescribeBytes(budget), analysis::DescribeBytes(used),
                      fmt::join(busy, ", ")));
    }
    const Entry& e = *lru->second;
    TrafficTotals& t = retired_[lru->first];
    t = {e.model, e.platform, e.precision, SumStats(t.traffic, e.batcher->Stats()), false};
    used -= e.bytes;
    ++evictions_;
    evicted.push_back(lru->second);
    entries_.erase(lru);
  }
  used += incoming.bytes;
  return evicted;
}

void ResourcePool::ForgetReservation(const Entry& entry) {
  std::lock_guard lock(mutex_);
  used_[entry.device] -= entry.bytes;
  ++load_failures_;
}

InferResult ResourcePool::Infer(const InferRequest& request) {
  const ModelSource source = registry_.Get(request.model);
  models::ParsePrecision(request.precision);  // an unknown one is refused before anything loads
  Lease lease = Acquire(source, request.platform, request.precision);
  detail::PreparedInputs in =
      detail::PrepareInputs(lease->session->inputs(), lease->built, request.inputs);
  BatchedResult b = lease->batcher->Run(std::move(in.tensors), request.deadline);
  return {.outputs = std::move(b.outputs),
          .model = lease->model,
          .platform = lease->platform,
          .precision = lease->precision,
          .execution_provider = lease->session->execution_provider(),
          .placement = lease->placement,
          .defaulted_inputs = std::move(in.defaulted),
          .batch_requests = b.batch_requests,
          .batch_rows = b.batch_rows,
          .queue_ms = b.queue_ms,
          .run_ms = b.run_ms};
}

PoolEntrySnapshot ResourcePool::Load(const std::string& model, const std::string& platform,
                                     const std::string& precision) {
  models::ParsePrecision(precision);
  Lease lease = Acquire(registry_.Get(model), platform, precision);
  const std::string key = EntryKey(lease->model, lease->platform, lease->precision);
  for (const PoolEntrySnapshot& e : Snapshot().entries)
    if (EntryKey(e.model, e.platform, e.precision) == key) return e;
  throw Error(ErrorKind::kInternal, "a session leased is not in the pool's snapshot");
}

std::vector<runtime::TensorSpec> ResourcePool::Inputs(const std::string& model,
                                                      const std::string& platform,
                                                      const std::string& precision) {
  models::ParsePrecision(precision);
  Lease lease = Acquire(registry_.Get(model), platform, precision);
  return lease->session->inputs();
}

void ResourcePool::Stop(StopMode mode) {
  std::vector<std::shared_ptr<Entry>> entries;
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    for (const auto& [key, e] : entries_) entries.push_back(e);
  }
  for (const auto& e : entries) e->batcher->Stop(mode);
}

PoolSnapshot ResourcePool::Snapshot() const {
  std::lock_guard lock(mutex_);
  PoolSnapshot s;
  s.batching = options_.batching;
  s.loads = loads_;
  s.evictions = evictions_;
  s.refused_too_large = refused_too_large_;
  s.refused_busy = refused_busy_;
  s.load_failures = load_failures_;
  std::map<std::string, TrafficTotals> totals = retired_;
  for (const auto& [key, e] : entries_) {
    const BatcherStats now = e->batcher->Stats();
    s.entries.push_back({.model = e->model,
                         .platform = e->platform,
                         .precision = e->precision,
                         .device = e->device,
                         .execution_provider = e->session->execution_provider(),
                         .placement = e->placement,
                         .estimated_bytes = e->bytes,
                         .batchable = e->batchable,
                         .traffic = now,
                         .loaded_at = Utc(e->loaded_at),
                         .last_used = Utc(e->last_used),
                         .in_flight = e->leases});
    TrafficTotals& t = totals[key];
    t = {e->model, e->platform, e->precision, SumStats(t.traffic, now), true};
  }
  for (auto& [key, t] : totals) s.totals.push_back(std::move(t));
  for (const auto& [device, budget] : budgets_) {
    const auto used = used_.find(device);
    s.devices.push_back({device, budget, used == used_.end() ? 0 : used->second});
  }
  return s;
}

}  // namespace ipfs_accel::serving
