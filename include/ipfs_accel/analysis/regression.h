#pragma once
// Regression detection between two refs of the results database, by two methods side by side:
// conbench's lookback z-score and asv's Mann-Whitney U test with a relative threshold.
// The statistics come first and know nothing of the store; CompareRefs applies them to it.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ipfs_accel/store/result_store.h"

namespace ipfs_accel::analysis {

enum class Verdict {
  kNoChange,
  kRegression,   // slower
  kImprovement,  // faster
  kInsufficientData,
};
// "no change", "regression", "improvement", "insufficient data".
std::string_view VerdictName(Verdict verdict);

// --- conbench's lookback z-score -------------------------------------------------------------

struct ZScore {
  double z = 0;  // (contender - mean) / stdev; +-infinity when the history has no spread
  double history_mean = 0;
  double history_stdev = 0;  // sample standard deviation (n - 1)
  std::size_t history_points = 0;
  Verdict verdict = Verdict::kNoChange;
};

// `history`: one value per baseline result (lower is better, e.g. its best repetition);
// `contender`: the same statistic of the contender. Regression when z > threshold,
// improvement when z < -threshold; kInsufficientData with fewer than 2 history points.
ZScore LookbackZScore(const std::vector<double>& history, double contender, double threshold);

// --- Mann-Whitney U --------------------------------------------------------------------------

struct MannWhitney {
  double u = 0;        // U of the first sample: pairs (x, y) with x > y, ties counting 1/2
  double p_value = 1;  // two-sided
  bool exact = false;  // exact distribution (else normal approximation)
};

// Two-sided test of x against y. Exact distribution (by dynamic programming) when both
// samples have at most 20 values and there are no ties; otherwise the normal approximation
// with tie correction and continuity correction (as scipy.stats.mannwhitneyu). Throws
// core::Error(kInvalidArgument) when a sample is empty.
MannWhitney MannWhitneyU(const std::vector<double>& x, const std::vector<double>& y);

// P(U <= u) under the null hypothesis for samples of n1 and n2 values without ties.
double MannWhitneyExactCdf(std::size_t n1, std::size_t n2, double u);

// Two-sided p-value of the normal approximation for U1 = u, with tie correction given the
// sizes of the groups of tied values (tie_sizes: every group of >= 2 equal values).
double MannWhitneyNormalP(std::size_t n1, std::size_t n2, double u,
                          const std::vector<std::size_t>& tie_sizes);

double Median(std::vector<double> values);  // of a non-empty sample

// --- asv's method ----------------------------------------------------------------------------

struct AsvComparison {
  double baseline_median = 0, contender_median = 0;
  double ratio = 0;  // contender median / baseline median
  MannWhitney test;
  Verdict verdict = Verdict::kNoChange;
};

// Regression when ratio > factor and p < alpha; improvement when ratio < 1 / factor and
// p < alpha; kInsufficientData when a sample is empty.
AsvComparison AsvCompare(const std::vector<double>& baseline, const std::vector<double>& contender,
                         double factor, double alpha);

// Regression if either method says regression; else improvement if either says so; else
// no change (insufficient data on one side defers to the other).
Verdict CombinedVerdict(Verdict z_verdict, Verdict asv_verdict);

// --- comparing two refs of the store ---------------------------------------------------------

struct CompareOptions {
  // Run (id, unique prefix, latest, latest~N), branch, or git commit (prefix or longer).
  std::string baseline_ref, contender_ref;
  bool include_dirty = false;                  // runs built from a modified tree ("-dirty")
  std::optional<std::string> model, hardware;  // model: a name or one model's label
  double threshold_z = 5;
  double factor = 1.1;
  double alpha = 0.002;
  int history = 20;  // baseline results per configuration for the z-score
  // What names the model in a configuration: "model" (its identity: name, source, weights'
  // hash, config) or "cid" (its content CID where stored, else its identity).
  std::string by = "model";
};

// What a ref names: its runs, newest first.
struct ResolvedRef {
  std::string ref;
  std::string kind;  // "run", "branch", "commit"
  std::vector<std::string> run_ids;
};

// Resolves a ref, in order: a run id, "latest" or "latest~N" (store::FindRunRef); a branch
// (runs.branch); a git commit, matching when the stored commit starts with the ref (at least 4
// hex digits) or the ref starts with the stored commit (a full SHA against the stored
// abbreviation); a unique run id prefix. Throws core::Error: kNotFound for a ref that names no
// run (the message lists the branches and latest commits stored), kInvalidArgument for a
// commit prefix naming several commits, a ref that is two of branch, commit and run id prefix,
// and what store::FindRunRef throws (an ambiguous run id prefix, latest~N past the first run).
ResolvedRef ResolveRef(store::ResultStore& store, const std::string& ref, bool include_dirty);

struct ConfigurationComparison {
  // The configuration: the latest_performance view's partition, with the hardware taken as
  // platform + device name (not the host, which changes between CI runners).
  // model: its label (ModelLabelSql); two models of one name are two configurations.
  std::string model, hardware, device, execution_provider, precision, graph_variant, scenario;
  int64_t batch_size = 0, seq_len = 0;
  std::string settings;  // threads, optimisation level, prompt/new tokens, provider options, QPS
  bool in_baseline = false, in_contender = false;
  // Set when in both:
  ZScore z;
  AsvComparison asv;
  Verdict verdict = Verdict::kNoChange;
};

struct Comparison {
  ResolvedRef baseline, contender;            // baseline: its runs less the contender's run
  std::string contender_run_id;               // the latest run of the contender ref
  std::vector<ConfigurationComparison> rows;  // in both first, then those in one side only
  bool AnyRegression() const;
};

// Baseline history: the last `history` results per configuration over the baseline ref's runs
// (the contender's run left out), each run's value its best repetition (min of samples_ms); the
// U test compares the latest baseline result's samples with the contender's.
Comparison CompareRefs(store::ResultStore& store, const CompareOptions& options);

// The comparison as a table, one row per configuration: what `compare` prints and `report
// regressions` shows. Medians are of the latencies' samples; a z that is not finite (a baseline
// history without spread) is NULL, its z_verdict still says what it found.
store::QueryResult ComparisonTable(const Comparison& comparison);

}  // namespace ipfs_accel::analysis
