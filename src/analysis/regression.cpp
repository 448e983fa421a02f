#include "ipfs_accel/analysis/regression.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <sstream>
#include <tuple>

#include <fmt/format.h>

#include "ipfs_accel/analysis/labels.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/store/run_ref.h"

namespace ipfs_accel::analysis {

std::string_view VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kNoChange:
      return "no change";
    case Verdict::kRegression:
      return "regression";
    case Verdict::kImprovement:
      return "improvement";
    case Verdict::kInsufficientData:
      return "insufficient data";
  }
  return "no change";
}

ZScore LookbackZScore(const std::vector<double>& history, double contender, double threshold) {
  ZScore z;
  z.history_points = history.size();
  if (history.size() < 2) {
    z.verdict = Verdict::kInsufficientData;
    return z;
  }
  const double n = static_cast<double>(history.size());
  z.history_mean = std::accumulate(history.begin(), history.end(), 0.0) / n;
  double squares = 0;
  for (double v : history) squares += (v - z.history_mean) * (v - z.history_mean);
  z.history_stdev = std::sqrt(squares / (n - 1));
  const double delta = contender - z.history_mean;
  if (z.history_stdev > 0)
    z.z = delta / z.history_stdev;
  else  // a history without spread: any change at all is off the scale
    z.z = delta == 0 ? 0 : std::copysign(std::numeric_limits<double>::infinity(), delta);
  if (z.z > threshold)
    z.verdict = Verdict::kRegression;
  else if (z.z < -threshold)
    z.verdict = Verdict::kImprovement;
  return z;
}

double MannWhitneyExactCdf(std::size_t n1, std::size_t n2, double u) {
  if (n1 > n2) std::swap(n1, n2);  // U's distribution is symmetric in the sample sizes
  const std::size_t max_u = n1 * n2;
  if (u < 0) return 0;
  if (u >= static_cast<double>(max_u)) return 1;
  // count[i][k]: orderings of i x-values and j y-values with U = k, built up over j by
  // c(i, j, k) = c(i - 1, j, k - j) [largest is an x, above all j y's] + c(i, j - 1, k).
  std::vector<std::vector<double>> count(n1 + 1, std::vector<double>(max_u + 1, 0.0));
  for (auto& row : count) row[0] = 1;
  for (std::size_t j = 1; j <= n2; ++j)
    for (std::size_t i = 1; i <= n1; ++i)
      for (std::size_t k = j; k <= i * j; ++k) count[i][k] += count[i - 1][k - j];
  const auto& dist = count[n1];
  const double total = std::accumulate(dist.begin(), dist.end(), 0.0);
  const auto upto = static_cast<std::size_t>(std::floor(u));
  return std::accumulate(dist.begin(), dist.begin() + static_cast<std::ptrdiff_t>(upto) + 1, 0.0) /
         total;
}

double MannWhitneyNormalP(std::size_t n1, std::size_t n2, double u,
                          const std::vector<std::size_t>& tie_sizes) {
  const double a = static_cast<double>(n1), b = static_cast<double>(n2), n = a + b;
  double ties = 0;
  for (std::size_t t : tie_sizes) {
    const double td = static_cast<double>(t);
    ties += td * td * td - td;
  }
  const double variance = a * b / 12.0 * ((n + 1) - ties / (n * (n - 1)));
  if (variance <= 0) return 1;  // every value equal
  const double mean = a * b / 2;
  // As scipy: the larger of U1 and U2, with a continuity correction of 1/2 toward the mean.
  const double big_u = std::max(u, a * b - u);
  const double z = (big_u - mean - 0.5) / std::sqrt(variance);
  return std::clamp(std::erfc(z / std::sqrt(2.0)), 0.0, 1.0);
}

MannWhitney MannWhitneyU(const std::vector<double>& x, const std::vector<double>& y) {
  if (x.empty() || y.empty())
    throw core::Error(core::ErrorKind::kInvalidArgument,
                      "Mann-Whitney U needs at least one value in each sample");
  // Mid-ranks over the pooled sample; U1 = R1 - n1 (n1 + 1) / 2.
  std::vector<std::pair<double, bool>> pooled;  // value, from x
  for (double v : x) pooled.emplace_back(v, true);
  for (double v : y) pooled.emplace_back(v, false);
  std::sort(pooled.begin(), pooled.end(),
            [](const auto& l, const auto& r) { return l.first < r.first; });
  double rank_sum_x = 0;
  std::vector<std::size_t> tie_sizes;
  for (std::size_t i = 0; i < pooled.size();) {
    std::size_t j = i;
    while (j < pooled.size() && pooled[j].first == pooled[i].first) ++j;
    const double mid_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
    for (std::size_t k = i; k < j; ++k)
      if (pooled[k].second) rank_sum_x += mid_rank;
    if (j - i > 1) tie_sizes.push_back(j - i);
    i = j;
  }
  const double n1 = static_cast<double>(x.size());
  MannWhitney r;
  r.u = rank_sum_x - n1 * (n1 + 1) / 2;
  // Exact counts assume distinct values; with ties the normal approximation corrects for them.
  if (x.size() <= 20 && y.size() <= 20 && tie_sizes.empty()) {
    r.exact = true;
    const double below = MannWhitneyExactCdf(x.size(), y.size(), r.u);
    const double above =
        MannWhitneyExactCdf(x.size(), y.size(), static_cast<double>(x.size() * y.size()) - r.u);
    r.p_value = std::min(1.0, 2 * std::min(below, above));  // P(U >= u) = P(U <= n1 n2 - u)
  } else {
    r.p_value = MannWhitneyNormalP(x.size(), y.size(), r.u, tie_sizes);
  }
  return r;
}

double Median(std::vector<double> values) {
  if (values.empty())
    throw core::Error(core::ErrorKind::kInvalidArgument, "the median of no values is undefined");
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

AsvComparison AsvCompare(const std::vector<double>& baseline, const std::vector<double>& contender,
                         double factor, double alpha) {
  AsvComparison c;
  if (baseline.empty() || contender.empty()) {
    c.verdict = Verdict::kInsufficientData;
    return c;
  }
  c.baseline_median = Median(baseline);
  c.contender_median = Median(contender);
  c.ratio = c.contender_median / c.baseline_median;
  c.test = MannWhitneyU(baseline, contender);
  if (c.test.p_value < alpha && c.ratio > factor)
    c.verdict = Verdict::kRegression;
  else if (c.test.p_value < alpha && c.ratio < 1 / factor)
    c.verdict = Verdict::kImprovement;
  return c;
}

Verdict CombinedVerdict(Verdict z_verdict, Verdict asv_verdict) {
  if (z_verdict == Verdict::kRegression || asv_verdict == Verdict::kRegression)
    return Verdict::kRegression;
  if (z_verdict == Verdict::kImprovement || asv_verdict == Verdict::kImprovement)
    return Verdict::kImprovement;
  if (z_verdict == Verdict::kInsufficientData && asv_verdict == Verdict::kInsufficientData)
    return Verdict::kInsufficientData;
  return Verdict::kNoChange;
}

// --- the store --------------------------------------------------------------------------------

namespace {

std::vector<std::string> Column(const store::QueryResult& r, std::size_t column = 0) {
  std::vector<std::string> out;
  for (const auto& row : r.rows) out.push_back(row[column].value_or(""));
  return out;
}

std::string JoinList(const std::vector<std::string>& values, std::size_t at_most = 10) {
  std::string out;
  for (std::size_t i = 0; i < values.size() && i < at_most; ++i) out += (i ? ", " : "") + values[i];
  if (values.size() > at_most) out += fmt::format(", ... ({} in all)", values.size());
  return out.empty() ? "none" : out;
}

bool IsHex(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isxdigit(c); });
}

}  // namespace

ResolvedRef ResolveRef(store::ResultStore& store, const std::string& ref, bool include_dirty) {
  if (ref.empty())
    throw core::Error(core::ErrorKind::kInvalidArgument,
                      "an empty ref names no runs; give a run id, a branch or a git commit");
  // A whole run id, latest or latest~N; a run id prefix only when no branch or commit is meant.
  const std::optional<std::string> run = store::FindRunRef(store, ref);
  if (run && (*run == ref || ref.rfind("latest", 0) == 0)) return {ref, "run", {*run}};
  const std::string clean = include_dirty ? "TRUE" : "git_commit NOT LIKE '%-dirty'";
  const auto branch_runs = Column(store.Query(
      fmt::format("SELECT run_id FROM runs WHERE branch = $1 AND {} ORDER BY started_at DESC",
                  clean),
      {ref}));
  std::vector<std::string> commit_runs, commits;
  std::string lower = ref;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower.size() >= 4 && IsHex(lower)) {
    // Either side may be the abbreviation: the tool stores 12 digits, CI passes 40.
    const std::string match = fmt::format(
        "{} AND (git_commit LIKE $1 || '%' OR (length(replace(git_commit, '-dirty', '')) >= 4 "
        "AND starts_with($1, lower(replace(git_commit, '-dirty', '')))))",
        clean);
    commit_runs = Column(store.Query(
        fmt::format("SELECT run_id FROM runs WHERE {} ORDER BY started_at DESC", match), {lower}));
    commits = Column(store.Query(
        fmt::format(
            "SELECT DISTINCT replace(git_commit, '-dirty', '') AS c FROM runs WHERE {} ORDER BY c",
            match),
        {lower}));
  }
  if (run && (!branch_runs.empty() || !commit_runs.empty()))
    throw core::Error(core::ErrorKind::kInvalidArgument,
                      fmt::format("ref '{}' is both the start of run id {} and a {}; give more of "
                                  "the run id, or the commit in full",
                                  ref, *run, branch_runs.empty() ? "git commit" : "branch"));
  if (run) return {ref, "run", {*run}};
  if (!branch_runs.empty() && !commit_runs.empty())
    throw core::Error(core::ErrorKind::kInvalidArgument,
                      fmt::format("ref '{}' is both a branch and a git commit; give a run id or a "
                                  "longer commit",
                                  ref));
  if (!branch_runs.empty()) return {ref, "branch", branch_runs};
  if (commits.size() > 1)
    throw core::Error(core::ErrorKind::kInvalidArgument,
                      fmt::format("commit '{}' is ambiguous: it matches {}; give more digits", ref,
                                  JoinList(commits)));
  if (!commit_runs.empty()) return {ref, "commit", commit_runs};

  const auto branches = Column(
      store.Query("SELECT DISTINCT branch FROM runs WHERE branch IS NOT NULL ORDER BY branch"));
  const auto recent = Column(store.Query(
      "SELECT git_commit FROM runs GROUP BY git_commit ORDER BY max(started_at) DESC LIMIT 5"));
  throw core::Error(
      core::ErrorKind::kNotFound,
      fmt::format(
          "ref '{}' names no stored run{}; branches stored: {}; latest commits: {}", ref,
          include_dirty ? "" : " (builds marked -dirty are left out; --include-dirty takes them)",
          JoinList(branches), JoinList(recent)));
}

namespace {

// One stored result as the comparison needs it.
struct StoredResult {
  ConfigurationComparison configuration;  // only the configuration fields set
  std::string key;
  std::vector<double> samples;
};

// A configuration: the model by identity (model_id, last; shown by its label, first), not name.
// By CID, the model is its content CID (shown in place of the label) wherever it has one, so
// the same bytes stored as two models (another name, source or machine's folder) pair up.
std::string KeyColumns(const std::string& by) {
  const bool cid = by == "cid";
  return (cid ? "coalesce(m.content_cid, " + ModelLabelSql("m") + ")" : ModelLabelSql("m")) +
         ", h.platform, h.device_name, p.execution_provider, p.precision, p.graph_variant, "
         "p.scenario, p.batch_size, p.seq_len, p.threads, p.graph_optimization_level, "
         "p.prompt_len, p.new_tokens, CAST(p.provider_options_json AS VARCHAR), p.target_qps, " +
         (cid ? "coalesce(m.content_cid, CAST(p.model_id AS VARCHAR))" : "p.model_id");
}
constexpr std::size_t kKeyColumnCount = 16;
constexpr std::size_t kSettingsEnd = 15;  // columns 9 to 14 are the settings

std::vector<double> ParseSamples(const std::string& text) {
  std::vector<double> out;
  std::istringstream in(text);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(std::stod(item));
  return out;
}

// Results of `runs` (newest first), at most `per_configuration` per configuration.
std::vector<StoredResult> ReadResults(store::ResultStore& store,
                                      const std::vector<std::string>& runs, const CompareOptions& o,
                                      int per_configuration) {
  if (runs.empty()) return {};
  store::QueryParams params;
  std::string where = fmt::format("list_contains({}, p.run_id)", params.Bind(runs));
  if (o.model) where += " AND " + ModelFilterSql(*o.model, "m", params);
  if (o.hardware) where += " AND h.platform = " + params.Bind(*o.hardware);
  const auto q = store.Query(
      fmt::format("SELECT {0}, array_to_string(p.samples_ms, ',') FROM performance_results p "
                  "JOIN runs r ON r.run_id = p.run_id JOIN models m ON m.model_id = p.model_id "
                  "JOIN hardware_platforms h ON h.hardware_id = p.hardware_id WHERE {1} "
                  "QUALIFY row_number() OVER (PARTITION BY {0} ORDER BY r.started_at DESC, "
                  "p.result_id DESC) <= {2} ORDER BY r.started_at DESC, p.result_id DESC",
                  KeyColumns(o.by), where, per_configuration),
      params.values());
  std::vector<StoredResult> out;
  for (const auto& row : q.rows) {
    StoredResult s;
    auto text = [&](std::size_t i) { return row[i].value_or(""); };
    auto& c = s.configuration;
    c.model = text(0);
    c.hardware = text(1);
    c.device = text(2);
    c.execution_provider = text(3);
    c.precision = text(4);
    c.graph_variant = text(5);
    c.scenario = text(6);
    c.batch_size = std::stoll(text(7));
    c.seq_len = std::stoll(text(8));
    // Only what differs from the defaults, so the common case reads short.
    const char* names[] = {"threads", "opt-level", "prompt", "new-tokens", "options", "qps"};
    for (std::size_t i = 9; i < kSettingsEnd; ++i) {
      const std::string v = text(i);
      if (v.empty() || v == "{}" || (i == 9 && v == "0")) continue;
      c.settings += fmt::format("{}{}={}", c.settings.empty() ? "" : " ", names[i - 9], v);
    }
    for (std::size_t i = 0; i < kKeyColumnCount; ++i)
      s.key += (row[i] ? "v" + *row[i] : std::string("null")) + '\x1f';
    s.samples = ParseSamples(text(kKeyColumnCount));
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

bool Comparison::AnyRegression() const {
  return std::any_of(rows.begin(), rows.end(),
                     [](const auto& r) { return r.verdict == Verdict::kRegression; });
}

Comparison CompareRefs(store::ResultStore& store, const CompareOptions& o) {
  if (o.history < 2)
    throw core::Error(
        core::ErrorKind::kInvalidArgument,
        fmt::format("--history {} is too short; the z-score needs at least 2", o.history));
  if (o.by != "model" && o.by != "cid")
    throw core::Error(core::ErrorKind::kInvalidArgument,
                      fmt::format("--by '{}' is not a way to key models; give model or cid", o.by));
  if (o.factor < 1 || o.alpha <= 0 || o.alpha >= 1 || o.threshold_z <= 0)
    throw core::Error(core::ErrorKind::kInvalidArgument,
                      "thresholds out of range: --factor >= 1, 0 < --alpha < 1, --threshold-z > 0");
  Comparison out;
  out.baseline = ResolveRef(store, o.baseline_ref, o.include_dirty);
  out.contender = ResolveRef(store, o.contender_ref, o.include_dirty);
  out.contender_run_id = out.contender.run_ids.front();
  std::vector<std::string> baseline_runs;
  for (const auto& r : out.baseline.run_ids)
    if (r != out.contender_run_id) baseline_runs.push_back(r);
  if (baseline_runs.empty())
    throw core::Error(core::ErrorKind::kInvalidArgument,
                      fmt::format("baseline '{}' names only the contender's run {}; give a "
                                  "baseline with other runs",
                                  o.baseline_ref, out.contender_run_id));

  out.baseline.run_ids = baseline_runs;
  const auto history = ReadResults(store, baseline_runs, o, o.history);
  const auto contender = ReadResults(store, {out.contender_run_id}, o, 1);
  std::map<std::string, std::vector<const StoredResult*>> by_key;  // newest first
  for (const auto& r : history) by_key[r.key].push_back(&r);

  std::vector<ConfigurationComparison> only_contender;
  std::map<std::string, bool> seen;
  for (const auto& c : contender) {
    seen[c.key] = true;
    ConfigurationComparison row = c.configuration;
    row.in_contender = true;
    const auto it = by_key.find(c.key);
    if (it == by_key.end() || c.samples.empty()) {
      only_contender.push_back(row);
      continue;
    }
    row.in_baseline = true;
    std::vector<double> best;  // each baseline result's best repetition
    for (const auto* h : it->second)
      if (!h->samples.empty())
        best.push_back(*std::min_element(h->samples.begin(), h->samples.end()));
    row.z =
        LookbackZScore(best, *std::min_element(c.samples.begin(), c.samples.end()), o.threshold_z);
    row.asv = AsvCompare(it->second.front()->samples, c.samples, o.factor, o.alpha);
    row.verdict = CombinedVerdict(row.z.verdict, row.asv.verdict);
    out.rows.push_back(row);
  }
  std::vector<ConfigurationComparison> only_baseline;
  for (const auto& [key, results] : by_key) {
    if (seen.count(key)) continue;
    ConfigurationComparison row = results.front()->configuration;
    row.in_baseline = true;
    only_baseline.push_back(row);
  }
  auto by_name = [](const auto& l, const auto& r) {
    return std::tie(l.model, l.hardware, l.scenario, l.precision, l.graph_variant, l.batch_size,
                    l.seq_len, l.settings) < std::tie(r.model, r.hardware, r.scenario, r.precision,
                                                      r.graph_variant, r.batch_size, r.seq_len,
                                                      r.settings);
  };
  std::sort(out.rows.begin(), out.rows.end(), by_name);
  std::sort(only_baseline.begin(), only_baseline.end(), by_name);
  std::sort(only_contender.begin(), only_contender.end(), by_name);
  out.rows.insert(out.rows.end(), only_baseline.begin(), only_baseline.end());
  out.rows.insert(out.rows.end(), only_contender.begin(), only_contender.end());
  return out;
}

store::QueryResult ComparisonTable(const Comparison& comparison) {
  store::QueryResult t;
  t.column_names = {
      "model",    "hardware", "device",    "ep",       "precision",          "graph",
      "scenario", "batch",    "seq_len",   "settings", "baseline_median_ms", "contender_median_ms",
      "ratio",    "z",        "z_verdict", "history",  "u_test_p",           "u_verdict",
      "verdict"};
  t.column_types = {"VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR",
                    "BIGINT",  "BIGINT",  "VARCHAR", "DOUBLE",  "DOUBLE",  "DOUBLE",  "DOUBLE",
                    "VARCHAR", "BIGINT",  "DOUBLE",  "VARCHAR", "VARCHAR"};
  for (const auto& r : comparison.rows) {
    std::vector<std::optional<std::string>> row = {r.model,
                                                   r.hardware,
                                                   r.device,
                                                   r.execution_provider,
                                                   r.precision,
                                                   r.graph_variant,
                                                   r.scenario,
                                                   std::to_string(r.batch_size),
                                                   std::to_string(r.seq_len),
                                                   r.settings};
    if (r.in_baseline && r.in_contender) {
      const bool have_z = r.z.verdict != Verdict::kInsufficientData;
      row.push_back(fmt::format("{:.3f}", r.asv.baseline_median));
      row.push_back(fmt::format("{:.3f}", r.asv.contender_median));
      row.push_back(fmt::format("{:.3f}", r.asv.ratio));
      if (have_z && std::isfinite(r.z.z))
        row.push_back(fmt::format("{:.2f}", r.z.z));
      else
        row.push_back(std::nullopt);
      row.push_back(std::string(VerdictName(r.z.verdict)));
      row.push_back(std::to_string(r.z.history_points));
      row.push_back(fmt::format("{:.3g}", r.asv.test.p_value));
      row.push_back(std::string(VerdictName(r.asv.verdict)));
      row.push_back(std::string(VerdictName(r.verdict)));
    } else {
      for (int i = 0; i < 8; ++i) row.emplace_back();  // no measurements on one side
      row.push_back(r.in_baseline ? "baseline only" : "contender only");
    }
    t.rows.push_back(std::move(row));
  }
  return t;
}

}  // namespace ipfs_accel::analysis
