#include "store/migrations.h"

#include <stdexcept>

#include <fmt/format.h>

#include "ipfs_accel/store/records.h"
#include "ipfs_accel/store/result_store.h"
#include "store/duckdb_handle.h"

namespace ipfs_accel::store {

// The key of schemas v5 to v11 (the migrations to them compute it over their columns).
#define IPFS_ACCEL_CONFIGURATION_KEY_V5_FIELDS                                              \
  "CAST(model_id AS BIGINT), CAST(hardware_id AS BIGINT), "                                 \
  "CAST(execution_provider AS VARCHAR), CAST(precision AS VARCHAR), "                       \
  "CAST(graph_variant AS VARCHAR), CAST(scenario AS VARCHAR), CAST(batch_size AS BIGINT), " \
  "CAST(seq_len AS BIGINT), CAST(prompt_len AS BIGINT), CAST(new_tokens AS BIGINT), "       \
  "CAST(threads AS BIGINT), CAST(graph_optimization_level AS BIGINT), "                     \
  "CAST(provider_options_json AS VARCHAR), CAST(target_qps AS DOUBLE)"
const char* const kConfigurationKeySqlV5 = "hash(" IPFS_ACCEL_CONFIGURATION_KEY_V5_FIELDS ")";
// Schema v12 adds a training step's optimizer and gradient accumulation.
const char* const kConfigurationKeySql =
    "hash(" IPFS_ACCEL_CONFIGURATION_KEY_V5_FIELDS
    ", CAST(training_optimizer AS VARCHAR), CAST(grad_accum_steps AS BIGINT))";
#undef IPFS_ACCEL_CONFIGURATION_KEY_V5_FIELDS

namespace {

using core::ErrorKind;

// Schema v1. Ids come from sequences; runs are keyed by the caller's UUID. CHECKs refuse values
// no measurement can produce, so a buggy writer fails loudly instead of storing them.
constexpr const char* kSchemaV1 = R"sql(
CREATE SEQUENCE hardware_id_seq START 1;
CREATE SEQUENCE model_id_seq START 1;
CREATE SEQUENCE performance_result_id_seq START 1;
CREATE SEQUENCE compatibility_result_id_seq START 1;

CREATE TABLE runs (
  run_id VARCHAR PRIMARY KEY,
  started_at TIMESTAMP NOT NULL,
  finished_at TIMESTAMP,
  tool_version VARCHAR NOT NULL,
  git_commit VARCHAR NOT NULL,
  command_line VARCHAR NOT NULL,
  hostname VARCHAR NOT NULL,
  os VARCHAR NOT NULL,
  seed UBIGINT NOT NULL,
  metadata JSON NOT NULL,
  CHECK (finished_at IS NULL OR finished_at >= started_at)
);

CREATE TABLE hardware_platforms (
  hardware_id BIGINT PRIMARY KEY DEFAULT nextval('hardware_id_seq'),
  platform VARCHAR NOT NULL,
  device_name VARCHAR NOT NULL,
  hostname VARCHAR NOT NULL,
  details JSON NOT NULL,
  UNIQUE (platform, device_name, hostname)
);

CREATE TABLE models (
  model_id BIGINT PRIMARY KEY DEFAULT nextval('model_id_seq'),
  name VARCHAR NOT NULL,
  architecture VARCHAR NOT NULL,
  modality VARCHAR NOT NULL,
  source VARCHAR NOT NULL,
  source_path VARCHAR NOT NULL,
  parameters BIGINT NOT NULL CHECK (parameters >= 0),
  content_hash VARCHAR NOT NULL,
  UNIQUE (name, source, content_hash)
);

CREATE TABLE performance_results (
  result_id BIGINT PRIMARY KEY DEFAULT nextval('performance_result_id_seq'),
  run_id VARCHAR NOT NULL REFERENCES runs (run_id),
  model_id BIGINT NOT NULL REFERENCES models (model_id),
  hardware_id BIGINT NOT NULL REFERENCES hardware_platforms (hardware_id),
  execution_provider VARCHAR NOT NULL,
  provider_options_json JSON NOT NULL,
  session_options_json JSON NOT NULL,
  runtime_version VARCHAR NOT NULL,
  precision VARCHAR NOT NULL,
  graph_variant VARCHAR NOT NULL CHECK (graph_variant IN ('plain', 'fused')),
  batch_size BIGINT NOT NULL CHECK (batch_size > 0),
  seq_len BIGINT NOT NULL CHECK (seq_len >= 0),
  input_shapes_json JSON NOT NULL,
  threads INTEGER NOT NULL CHECK (threads >= 0),
  warmup_iterations INTEGER NOT NULL CHECK (warmup_iterations >= 0),
  iterations INTEGER NOT NULL CHECK (iterations >= 0),
  load_ms DOUBLE NOT NULL CHECK (load_ms >= 0),
  first_inference_ms DOUBLE NOT NULL CHECK (first_inference_ms >= 0),
  latency_mean_ms DOUBLE NOT NULL CHECK (latency_mean_ms >= 0),
  latency_stdev_ms DOUBLE NOT NULL CHECK (latency_stdev_ms >= 0),
  latency_min_ms DOUBLE NOT NULL CHECK (latency_min_ms >= 0),
  latency_max_ms DOUBLE NOT NULL CHECK (latency_max_ms >= 0),
  latency_p50_ms DOUBLE NOT NULL CHECK (latency_p50_ms >= 0),
  latency_p90_ms DOUBLE NOT NULL CHECK (latency_p90_ms >= 0),
  latency_p95_ms DOUBLE NOT NULL CHECK (latency_p95_ms >= 0),
  latency_p99_ms DOUBLE NOT NULL CHECK (latency_p99_ms >= 0),
  throughput_items_per_s DOUBLE NOT NULL CHECK (throughput_items_per_s >= 0),
  peak_rss_bytes BIGINT NOT NULL CHECK (peak_rss_bytes >= 0),
  samples_ms DOUBLE[] NOT NULL,
  -- 'single-stream': latencies are whole runs. 'generate': latencies are per decoded token,
  -- throughput is tokens/s, and the prompt/new-token counts and time to first token are set.
  scenario VARCHAR NOT NULL CHECK (scenario IN ('single-stream', 'generate')),
  prompt_len BIGINT CHECK (prompt_len > 0),
  new_tokens BIGINT CHECK (new_tokens > 0),
  time_to_first_token_ms DOUBLE CHECK (time_to_first_token_ms >= 0),
  created_at TIMESTAMP NOT NULL,
  -- Only min <= max: interpolated percentiles and a summed mean may pass max by an ulp.
  CHECK (latency_min_ms <= latency_max_ms)
);

CREATE TABLE compatibility_results (
  id BIGINT PRIMARY KEY DEFAULT nextval('compatibility_result_id_seq'),
  run_id VARCHAR NOT NULL REFERENCES runs (run_id),
  model_id BIGINT NOT NULL REFERENCES models (model_id),
  hardware_id BIGINT NOT NULL REFERENCES hardware_platforms (hardware_id),
  execution_provider VARCHAR NOT NULL,
  status VARCHAR NOT NULL CHECK (status IN ('ok', 'failed', 'unavailable')),
  error_class VARCHAR NOT NULL,
  error_message VARCHAR NOT NULL,
  max_abs_error DOUBLE CHECK (max_abs_error >= 0),
  precision VARCHAR NOT NULL,
  graph_variant VARCHAR NOT NULL CHECK (graph_variant IN ('plain', 'fused')),
  top1_agreement DOUBLE CHECK (top1_agreement BETWEEN 0 AND 1),
  created_at TIMESTAMP NOT NULL
);

)sql";

// Recreated by every step that adds a column to performance_results, since DuckDB binds a
// view's p.* when the view is made.
constexpr const char* kLatestPerformanceView = R"sql(
-- The most recent measurement of each configuration: the run that started last wins, then
-- the row written last.
CREATE VIEW latest_performance AS
SELECT p.*, m.name AS model_name, h.platform, h.device_name, h.hostname AS hardware_hostname,
       r.started_at AS run_started_at
FROM performance_results p
JOIN runs r ON r.run_id = p.run_id
JOIN models m ON m.model_id = p.model_id
JOIN hardware_platforms h ON h.hardware_id = p.hardware_id
QUALIFY row_number() OVER (
  PARTITION BY p.model_id, p.hardware_id, p.execution_provider, p.precision, p.graph_variant,
               p.scenario,
               p.batch_size, p.seq_len, p.prompt_len, p.new_tokens
  ORDER BY r.started_at DESC, p.result_id DESC) = 1;
)sql";

// From v3 on, every sweep axis is part of a configuration: threads, graph optimisation level,
// provider options, and the server scenario's target QPS.
constexpr const char* kLatestPerformanceViewV3 = R"sql(
CREATE VIEW latest_performance AS
SELECT p.*, m.name AS model_name, h.platform, h.device_name, h.hostname AS hardware_hostname,
       r.started_at AS run_started_at
FROM performance_results p
JOIN runs r ON r.run_id = p.run_id
JOIN models m ON m.model_id = p.model_id
JOIN hardware_platforms h ON h.hardware_id = p.hardware_id
QUALIFY row_number() OVER (
  PARTITION BY p.model_id, p.hardware_id, p.execution_provider, p.precision, p.graph_variant,
               p.scenario, p.batch_size, p.seq_len, p.prompt_len, p.new_tokens, p.threads,
               p.graph_optimization_level, CAST(p.provider_options_json AS VARCHAR),
               p.target_qps
  ORDER BY r.started_at DESC, p.result_id DESC) = 1;
)sql";

// Schema v2: device memory of GPU runs, the process's and the whole GPU's (NVML), apart.
// (DuckDB cannot add a column with a CHECK; the writer only stores values >= 0.)
constexpr const char* kSchemaV2 = R"sql(
ALTER TABLE performance_results ADD COLUMN device_memory_process_bytes BIGINT;
ALTER TABLE performance_results ADD COLUMN device_memory_gpu_used_bytes BIGINT;
DROP VIEW latest_performance;
)sql";

// Schema v3: the benchmark method (issue 5). Scenarios offline and server join single-stream
// and generate, so the CHECK on scenario changes; DuckDB cannot alter a CHECK, so both result
// tables are rebuilt and their rows copied. New: the tail-latency estimate with its confidence
// (LoadGen's early-stopping percentile and a two-sided order-statistic interval), the server
// scenario's target/achieved QPS and latency bound, the graph optimisation level as a column
// (a sweep axis), the pre-run memory estimate (labelled an estimate), and, for compatibility
// results, the configuration they belong to and a 'skipped' status (cannot fit in memory).
constexpr const char* kSchemaV3 = R"sql(
DROP VIEW latest_performance;
ALTER TABLE performance_results RENAME TO performance_results_v2;
CREATE TABLE performance_results (
  result_id BIGINT PRIMARY KEY DEFAULT nextval('performance_result_id_seq'),
  run_id VARCHAR NOT NULL REFERENCES runs (run_id),
  model_id BIGINT NOT NULL REFERENCES models (model_id),
  hardware_id BIGINT NOT NULL REFERENCES hardware_platforms (hardware_id),
  execution_provider VARCHAR NOT NULL,
  provider_options_json JSON NOT NULL,
  session_options_json JSON NOT NULL,
  runtime_version VARCHAR NOT NULL,
  precision VARCHAR NOT NULL,
  graph_variant VARCHAR NOT NULL CHECK (graph_variant IN ('plain', 'fused')),
  batch_size BIGINT NOT NULL CHECK (batch_size > 0),
  seq_len BIGINT NOT NULL CHECK (seq_len >= 0),
  input_shapes_json JSON NOT NULL,
  threads INTEGER NOT NULL CHECK (threads >= 0),
  warmup_iterations INTEGER NOT NULL CHECK (warmup_iterations >= 0),
  iterations INTEGER NOT NULL CHECK (iterations >= 0),
  load_ms DOUBLE NOT NULL CHECK (load_ms >= 0),
  first_inference_ms DOUBLE NOT NULL CHECK (first_inference_ms >= 0),
  latency_mean_ms DOUBLE NOT NULL CHECK (latency_mean_ms >= 0),
  latency_stdev_ms DOUBLE NOT NULL CHECK (latency_stdev_ms >= 0),
  latency_min_ms DOUBLE NOT NULL CHECK (latency_min_ms >= 0),
  latency_max_ms DOUBLE NOT NULL CHECK (latency_max_ms >= 0),
  latency_p50_ms DOUBLE NOT NULL CHECK (latency_p50_ms >= 0),
  latency_p90_ms DOUBLE NOT NULL CHECK (latency_p90_ms >= 0),
  latency_p95_ms DOUBLE NOT NULL CHECK (latency_p95_ms >= 0),
  latency_p99_ms DOUBLE NOT NULL CHECK (latency_p99_ms >= 0),
  throughput_items_per_s DOUBLE NOT NULL CHECK (throughput_items_per_s >= 0),
  peak_rss_bytes BIGINT NOT NULL CHECK (peak_rss_bytes >= 0),
  samples_ms DOUBLE[] NOT NULL,
  -- 'single-stream': latencies are whole runs, one query at a time. 'offline': the same loop
  -- at a batch, throughput is what counts. 'server': latencies run from a query's scheduled
  -- (Poisson) arrival to its completion. 'generate': latencies are per decoded token,
  -- throughput is tokens/s, and the prompt/new-token counts and time to first token are set.
  scenario VARCHAR NOT NULL CHECK (scenario IN ('single-stream', 'offline', 'server', 'generate')),
  prompt_len BIGINT CHECK (prompt_len > 0),
  new_tokens BIGINT CHECK (new_tokens > 0),
  time_to_first_token_ms DOUBLE CHECK (time_to_first_token_ms >= 0),
  created_at TIMESTAMP NOT NULL,
  device_memory_process_bytes BIGINT CHECK (device_memory_process_bytes >= 0),
  device_memory_gpu_used_bytes BIGINT CHECK (device_memory_gpu_used_bytes >= 0),
  graph_optimization_level INTEGER CHECK (graph_optimization_level IN (0, 1, 2, 99)),
  -- The tail percentile the scenario is judged by (90 single-stream, 99 server), LoadGen's
  -- early-stopping estimate of it (NULL when too few queries ran) at its confidence, and a
  -- two-sided order-statistic interval for it at ci_level.
  tail_percentile DOUBLE CHECK (tail_percentile > 0 AND tail_percentile < 100),
  tail_early_stopping_ms DOUBLE CHECK (tail_early_stopping_ms >= 0),
  tail_confidence DOUBLE CHECK (tail_confidence > 0 AND tail_confidence < 1),
  tail_ci_low_ms DOUBLE CHECK (tail_ci_low_ms >= 0),
  tail_ci_high_ms DOUBLE CHECK (tail_ci_high_ms >= 0),
  tail_ci_level DOUBLE CHECK (tail_ci_level > 0 AND tail_ci_level < 1),
  target_qps DOUBLE CHECK (target_qps > 0),
  achieved_qps DOUBLE CHECK (achieved_qps >= 0),
  latency_bound_ms DOUBLE CHECK (latency_bound_ms > 0),
  memory_estimate_bytes BIGINT CHECK (memory_estimate_bytes >= 0),
  CHECK (latency_min_ms <= latency_max_ms)
);
INSERT INTO performance_results (result_id, run_id, model_id, hardware_id, execution_provider,
  provider_options_json, session_options_json, runtime_version, precision, graph_variant,
  batch_size, seq_len, input_shapes_json, threads, warmup_iterations, iterations, load_ms,
  first_inference_ms, latency_mean_ms, latency_stdev_ms, latency_min_ms, latency_max_ms,
  latency_p50_ms, latency_p90_ms, latency_p95_ms, latency_p99_ms, throughput_items_per_s,
  peak_rss_bytes, samples_ms, scenario, prompt_len, new_tokens, time_to_first_token_ms,
  created_at, device_memory_process_bytes, device_memory_gpu_used_bytes)
SELECT result_id, run_id, model_id, hardware_id, execution_provider,
  provider_options_json, session_options_json, runtime_version, precision, graph_variant,
  batch_size, seq_len, input_shapes_json, threads, warmup_iterations, iterations, load_ms,
  first_inference_ms, latency_mean_ms, latency_stdev_ms, latency_min_ms, latency_max_ms,
  latency_p50_ms, latency_p90_ms, latency_p95_ms, latency_p99_ms, throughput_items_per_s,
  peak_rss_bytes, samples_ms, scenario, prompt_len, new_tokens, time_to_first_token_ms,
  created_at, device_memory_process_bytes, device_memory_gpu_used_bytes
FROM performance_results_v2;
DROP TABLE performance_results_v2;

ALTER TABLE compatibility_results RENAME TO compatibility_results_v2;
CREATE TABLE compatibility_results (
  id BIGINT PRIMARY KEY DEFAULT nextval('compatibility_result_id_seq'),
  run_id VARCHAR NOT NULL REFERENCES runs (run_id),
  model_id BIGINT NOT NULL REFERENCES models (model_id),
  hardware_id BIGINT NOT NULL REFERENCES hardware_platforms (hardware_id),
  execution_provider VARCHAR NOT NULL,
  status VARCHAR NOT NULL CHECK (status IN ('ok', 'failed', 'unavailable', 'skipped')),
  error_class VARCHAR NOT NULL,
  error_message VARCHAR NOT NULL,
  max_abs_error DOUBLE CHECK (max_abs_error >= 0),
  precision VARCHAR NOT NULL,
  graph_variant VARCHAR NOT NULL CHECK (graph_variant IN ('plain', 'fused')),
  top1_agreement DOUBLE CHECK (top1_agreement BETWEEN 0 AND 1),
  created_at TIMESTAMP NOT NULL,
  -- The configuration the result belongs to; NULL in rows written before v3.
  scenario VARCHAR,
  batch_size BIGINT CHECK (batch_size > 0),
  seq_len BIGINT CHECK (seq_len >= 0),
  configuration_json JSON
);
INSERT INTO compatibility_results (id, run_id, model_id, hardware_id, execution_provider,
  status, error_class, error_message, max_abs_error, precision, graph_variant, top1_agreement,
  created_at)
SELECT id, run_id, model_id, hardware_id, execution_provider, status, error_class,
  error_message, max_abs_error, precision, graph_variant, top1_agreement, created_at
FROM compatibility_results_v2;
DROP TABLE compatibility_results_v2;
)sql";

// The latest compatibility result of each model x hardware x variant (v4; rebuilt by v6).
constexpr const char* kModelHardwareCompatibilityView = R"sql(
CREATE VIEW model_hardware_compatibility AS
SELECT c.*, m.name AS model_name, m.family, m.modality, h.platform, h.device_name,
       h.hostname AS hardware_hostname, r.started_at AS run_started_at
FROM compatibility_results c
JOIN runs r ON r.run_id = c.run_id
JOIN models m ON m.model_id = c.model_id
JOIN hardware_platforms h ON h.hardware_id = c.hardware_id
QUALIFY rank() OVER (
  PARTITION BY c.model_id, c.hardware_id, c.precision, c.graph_variant
  ORDER BY r.started_at DESC) = 1;
)sql";

// Schema v4: the results database of issue 6. Runs say their branch and whether this tool
// measured them or read them from a result file (and which); models say their family; a view
// gives the latest compatibility result of each model x hardware x variant.
constexpr const char* kSchemaV4 = R"sql(
ALTER TABLE runs ADD COLUMN branch VARCHAR;
ALTER TABLE runs ADD COLUMN origin VARCHAR DEFAULT 'measured';
ALTER TABLE runs ADD COLUMN imported_from VARCHAR;
ALTER TABLE models ADD COLUMN family VARCHAR;
)sql";

// Schema v5: a stored configuration key, so "the latest result of each configuration" is one
// hash aggregate over a BIGINT instead of a window over a dozen columns (1M results: ~0.3 s ->
// well under 0.1 s on 2 cores). Old rows get theirs here; writers set it as they insert.
// From v5 on: the latest result of each configuration by its stored key.
const std::string kLatestPerformanceViewV5 =
    "CREATE VIEW latest_performance AS\n"
    // The last row of each configuration in each run first (one narrow aggregate), then the
    // latest run of each: joining a million rows to runs for their start time costs more.
    "WITH per_run AS (\n"
    "  SELECT configuration_key, run_id, max(result_id) AS result_id\n"
    "  FROM performance_results GROUP BY configuration_key, run_id),\n"
    "latest AS (\n"
    "  SELECT arg_max(per_run.result_id, (r.started_at, per_run.result_id)) AS result_id\n"
    "  FROM per_run JOIN runs r ON r.run_id = per_run.run_id\n"
    "  GROUP BY per_run.configuration_key)\n"
    "SELECT p.*, m.name AS model_name, h.platform, h.device_name,\n"
    "       h.hostname AS hardware_hostname, r.started_at AS run_started_at\n"
    "FROM latest JOIN performance_results p ON p.result_id = latest.result_id\n"
    "JOIN runs r ON r.run_id = p.run_id\n"
    "JOIN models m ON m.model_id = p.model_id\n"
    "JOIN hardware_platforms h ON h.hardware_id = p.hardware_id;\n";

const std::string kSchemaV5 =
    std::string(
        "ALTER TABLE performance_results ADD COLUMN configuration_key UBIGINT;\n"
        "UPDATE performance_results SET configuration_key = ") +
    kConfigurationKeySqlV5 +
    ";\n"
    "DROP VIEW latest_performance;\n" +
    kLatestPerformanceViewV5;

// Schema v6: fast ingest. DuckDB checks a FOREIGN KEY per appended row against the parent's
// index, and keeps a PRIMARY KEY index over every result; with both, a million results took
// ~8 s to write instead of ~5 s. The result tables lose their foreign keys (WriteRun resolves
// every id itself and `db check` reports orphans) and performance_results its primary key
// (ids come from the sequence; `db check` reports duplicates). Columns are in the order the
// writer appends them (ForEachField's, then created_at and configuration_key), since DuckDB's
// appender fills a table's columns by position. DuckDB cannot drop a constraint, so both
// tables are rebuilt: the new one is filled under another name and renamed once the old one is
// dropped (a parent table keeps its foreign-key link by the child's name, so the old child must
// be dropped under the name the link has). The rebuilt scenario CHECK also admits 'load' (a
// composite model's parts loaded in the browser one after the other vs all at once).
constexpr const char* kSchemaV6Tables = R"sql(
DROP VIEW latest_performance;
DROP VIEW model_hardware_compatibility;
CREATE TABLE performance_results_v6 (
  result_id BIGINT NOT NULL DEFAULT nextval('performance_result_id_seq'),
  run_id VARCHAR NOT NULL,
  model_id BIGINT NOT NULL,
  hardware_id BIGINT NOT NULL,
  execution_provider VARCHAR NOT NULL,
  provider_options_json JSON NOT NULL,
  session_options_json JSON NOT NULL,
  runtime_version VARCHAR NOT NULL,
  precision VARCHAR NOT NULL,
  graph_variant VARCHAR NOT NULL CHECK (graph_variant IN ('plain', 'fused')),
  batch_size BIGINT NOT NULL CHECK (batch_size > 0),
  seq_len BIGINT NOT NULL CHECK (seq_len >= 0),
  input_shapes_json JSON NOT NULL,
  threads INTEGER NOT NULL CHECK (threads >= 0),
  warmup_iterations INTEGER NOT NULL CHECK (warmup_iterations >= 0),
  iterations INTEGER NOT NULL CHECK (iterations >= 0),
  load_ms DOUBLE NOT NULL CHECK (load_ms >= 0),
  first_inference_ms DOUBLE NOT NULL CHECK (first_inference_ms >= 0),
  latency_mean_ms DOUBLE NOT NULL CHECK (latency_mean_ms >= 0),
  latency_stdev_ms DOUBLE NOT NULL CHECK (latency_stdev_ms >= 0),
  latency_min_ms DOUBLE NOT NULL CHECK (latency_min_ms >= 0),
  latency_max_ms DOUBLE NOT NULL CHECK (latency_max_ms >= 0),
  latency_p50_ms DOUBLE NOT NULL CHECK (latency_p50_ms >= 0),
  latency_p90_ms DOUBLE NOT NULL CHECK (latency_p90_ms >= 0),
  latency_p95_ms DOUBLE NOT NULL CHECK (latency_p95_ms >= 0),
  latency_p99_ms DOUBLE NOT NULL CHECK (latency_p99_ms >= 0),
  throughput_items_per_s DOUBLE NOT NULL CHECK (throughput_items_per_s >= 0),
  peak_rss_bytes BIGINT NOT NULL CHECK (peak_rss_bytes >= 0),
  samples_ms DOUBLE[] NOT NULL,
  scenario VARCHAR NOT NULL CHECK (scenario IN ('single-stream', 'offline', 'server', 'generate', 'load')),
  prompt_len BIGINT CHECK (prompt_len > 0),
  new_tokens BIGINT CHECK (new_tokens > 0),
  time_to_first_token_ms DOUBLE CHECK (time_to_first_token_ms >= 0),
  device_memory_process_bytes BIGINT CHECK (device_memory_process_bytes >= 0),
  device_memory_gpu_used_bytes BIGINT CHECK (device_memory_gpu_used_bytes >= 0),
  graph_optimization_level INTEGER CHECK (graph_optimization_level IN (0, 1, 2, 99)),
  tail_percentile DOUBLE CHECK (tail_percentile > 0 AND tail_percentile < 100),
  tail_early_stopping_ms DOUBLE CHECK (tail_early_stopping_ms >= 0),
  tail_confidence DOUBLE CHECK (tail_confidence > 0 AND tail_confidence < 1),
  tail_ci_low_ms DOUBLE CHECK (tail_ci_low_ms >= 0),
  tail_ci_high_ms DOUBLE CHECK (tail_ci_high_ms >= 0),
  tail_ci_level DOUBLE CHECK (tail_ci_level > 0 AND tail_ci_level < 1),
  target_qps DOUBLE CHECK (target_qps > 0),
  achieved_qps DOUBLE CHECK (achieved_qps >= 0),
  latency_bound_ms DOUBLE CHECK (latency_bound_ms > 0),
  memory_estimate_bytes BIGINT CHECK (memory_estimate_bytes >= 0),
  created_at TIMESTAMP NOT NULL,
  configuration_key UBIGINT NOT NULL,
  CHECK (latency_min_ms <= latency_max_ms)
);
INSERT INTO performance_results_v6 BY NAME SELECT * FROM performance_results;
DROP TABLE performance_results;
ALTER TABLE performance_results_v6 RENAME TO performance_results;

CREATE TABLE compatibility_results_v6 (
  id BIGINT PRIMARY KEY DEFAULT nextval('compatibility_result_id_seq'),
  run_id VARCHAR NOT NULL,
  model_id BIGINT NOT NULL,
  hardware_id BIGINT NOT NULL,
  execution_provider VARCHAR NOT NULL,
  status VARCHAR NOT NULL CHECK (status IN ('ok', 'failed', 'unavailable', 'skipped')),
  error_class VARCHAR NOT NULL,
  error_message VARCHAR NOT NULL,
  max_abs_error DOUBLE CHECK (max_abs_error >= 0),
  precision VARCHAR NOT NULL,
  graph_variant VARCHAR NOT NULL CHECK (graph_variant IN ('plain', 'fused')),
  top1_agreement DOUBLE CHECK (top1_agreement BETWEEN 0 AND 1),
  created_at TIMESTAMP NOT NULL,
  scenario VARCHAR,
  batch_size BIGINT CHECK (batch_size > 0),
  seq_len BIGINT CHECK (seq_len >= 0),
  configuration_json JSON
);
INSERT INTO compatibility_results_v6 BY NAME SELECT * FROM compatibility_results;
DROP TABLE compatibility_results;
ALTER TABLE compatibility_results_v6 RENAME TO compatibility_results;
)sql";

// Schema v7: a run says whether it is complete. A sweep stores each configuration as it
// finishes, in a run that is "running" until the sweep ends ("complete") or is stopped by a
// signal ("interrupted"); a run whose process was killed stays "running" with what it stored.
// DuckDB cannot add a CHECK to an existing column, so runs is rebuilt (no table refers to it by
// key since v6) and the views over it made again.
constexpr const char* kSchemaV7Runs = R"sql(
DROP VIEW latest_performance;
DROP VIEW model_hardware_compatibility;
CREATE TABLE runs_v7 (
  run_id VARCHAR PRIMARY KEY,
  started_at TIMESTAMP NOT NULL,
  finished_at TIMESTAMP,
  tool_version VARCHAR NOT NULL,
  git_commit VARCHAR NOT NULL,
  command_line VARCHAR NOT NULL,
  hostname VARCHAR NOT NULL,
  os VARCHAR NOT NULL,
  seed UBIGINT NOT NULL,
  metadata JSON NOT NULL,
  branch VARCHAR,
  origin VARCHAR DEFAULT 'measured',
  imported_from VARCHAR,
  state VARCHAR NOT NULL DEFAULT 'complete'
    CHECK (state IN ('running', 'interrupted', 'complete')),
  CHECK (finished_at IS NULL OR finished_at >= started_at),
  CHECK (state = 'running' OR finished_at IS NOT NULL)
);
INSERT INTO runs_v7 BY NAME
  SELECT *, CASE WHEN finished_at IS NULL THEN 'running' ELSE 'complete' END AS state FROM runs;
DROP TABLE runs;
ALTER TABLE runs_v7 RENAME TO runs;
)sql";

// From v8 on, threads are the intra-op threads a session used. A measured ONNX Runtime row
// stored with 0 (the runtime's default) used one per physical core of its host: the cpu
// platform's details say how many. Browser rows keep theirs (the page reports its own).
constexpr const char* kSchemaV8Threads = R"sql(
UPDATE performance_results SET threads = host.cores,
  session_options_json = json_merge_patch(session_options_json,
    json_object('intra_op_threads', host.cores, 'threads_source', 'runtime default'))
FROM (SELECT h.hardware_id, max(CAST(cpu.details->>'physical_cores' AS INTEGER)) AS cores
      FROM hardware_platforms h
      JOIN hardware_platforms cpu ON cpu.hostname = h.hostname AND cpu.platform = 'cpu'
      WHERE h.platform NOT IN ('wasm', 'webgpu', 'webnn') GROUP BY h.hardware_id) host
WHERE performance_results.hardware_id = host.hardware_id AND host.cores > 0
  AND performance_results.threads = 0
  AND performance_results.run_id IN
    (SELECT run_id FROM runs WHERE COALESCE(origin, 'measured') = 'measured');
)sql";

// Schema v8: a model is what was measured, its weights and its structure: models get the
// sha256 of the config the graph was built from, and it joins their unique key (DuckDB cannot
// alter a UNIQUE, so models is rebuilt; NULL in rows stored before). A measured value the source
// did not have is NULL, not 0: the measured columns of performance_results lose NOT NULL, and
// the zeros imported runs stored for values their files lacked become NULL (a latency, load
// time, throughput or peak RSS of exactly 0 was never measured; a standard deviation of fewer
// than two samples is not defined). Measured rows get the threads they used (above), and every
// row whose configuration changed so its key.
const std::string kSchemaV8 = [] {
  std::string sql = R"sql(
DROP VIEW latest_performance;
DROP VIEW model_hardware_compatibility;
CREATE TABLE models_v8 (
  model_id BIGINT PRIMARY KEY DEFAULT nextval('model_id_seq'),
  name VARCHAR NOT NULL,
  architecture VARCHAR NOT NULL,
  modality VARCHAR NOT NULL,
  source VARCHAR NOT NULL,
  source_path VARCHAR NOT NULL,
  parameters BIGINT NOT NULL CHECK (parameters >= 0),
  content_hash VARCHAR NOT NULL,
  family VARCHAR,
  config_hash VARCHAR,
  UNIQUE (name, source, content_hash, config_hash)
);
INSERT INTO models_v8 BY NAME SELECT * FROM models;
DROP TABLE models;
ALTER TABLE models_v8 RENAME TO models;
)sql";
  const char* kMeasured[] = {"load_ms",          "first_inference_ms",     "latency_mean_ms",
                             "latency_stdev_ms", "latency_min_ms",         "latency_max_ms",
                             "latency_p50_ms",   "latency_p90_ms",         "latency_p95_ms",
                             "latency_p99_ms",   "throughput_items_per_s", "peak_rss_bytes"};
  const std::string imported = "run_id IN (SELECT run_id FROM runs WHERE origin = 'imported')";
  for (const char* column : kMeasured) {
    sql += fmt::format("ALTER TABLE performance_results ALTER COLUMN {} DROP NOT NULL;\n", column);
    const std::string never_measured = std::string_view(column) == "latency_stdev_ms"
                                           ? fmt::format("{} = 0 AND len(samples_ms) < 2", column)
                                           : fmt::format("{} = 0", column);
    sql += fmt::format("UPDATE performance_results SET {} = NULL WHERE {} AND {};\n", column,
                       never_measured, imported);
  }
  return sql + kSchemaV8Threads +
         "UPDATE performance_results SET configuration_key = " + kConfigurationKeySqlV5 +
         " WHERE configuration_key <> " + kConfigurationKeySqlV5 + ";\n";
}();

// Schema v9: architecture templates (issue 16). `templates` holds every (model_type, version)
// ever loaded with its resolved JSON and content hash: a version's content never changes (the
// writer refuses another hash under a stored version). `template_versions` is the history the
// files state (a version's reason; its hash and commit once a tool loaded it), kept forever;
// variables (config keys with HF's defaults), helpers (the builder pieces used) and dependencies
// (parent template, builder) are per version. `template_validations` keeps every outcome of
// `templates validate`. Performance results record the template name and version their graph
// was built from (NULL for .onnx files and imported results): two columns the writer fills
// before created_at, so the table is rebuilt with them in place (the appender fills by position).
constexpr const char* kSchemaV9Templates = R"sql(
CREATE TABLE templates (
  model_type VARCHAR NOT NULL,
  version BIGINT NOT NULL CHECK (version > 0),
  builder VARCHAR NOT NULL,
  inherits VARCHAR,
  abstract BOOLEAN NOT NULL,
  hf_config_class VARCHAR,
  source VARCHAR NOT NULL,
  content_hash VARCHAR NOT NULL,
  resolved JSON NOT NULL,
  git_commit VARCHAR NOT NULL,
  loaded_at TIMESTAMP NOT NULL,
  PRIMARY KEY (model_type, version)
);
CREATE TABLE template_versions (
  model_type VARCHAR NOT NULL,
  version BIGINT NOT NULL CHECK (version > 0),
  git_commit VARCHAR,
  reason VARCHAR NOT NULL,
  content_hash VARCHAR,
  recorded_at TIMESTAMP NOT NULL,
  PRIMARY KEY (model_type, version)
);
CREATE TABLE template_variables (
  model_type VARCHAR NOT NULL,
  version BIGINT NOT NULL,
  key VARCHAR NOT NULL,
  canonical_name VARCHAR NOT NULL,
  hf_default JSON,
  PRIMARY KEY (model_type, version, key)
);
CREATE TABLE template_helpers (
  model_type VARCHAR NOT NULL,
  version BIGINT NOT NULL,
  piece VARCHAR NOT NULL,
  value JSON NOT NULL,
  PRIMARY KEY (model_type, version, piece)
);
CREATE TABLE template_dependencies (
  model_type VARCHAR NOT NULL,
  version BIGINT NOT NULL,
  depends_on VARCHAR NOT NULL,
  kind VARCHAR NOT NULL CHECK (kind IN ('inherits', 'builder')),
  PRIMARY KEY (model_type, version, depends_on, kind)
);
CREATE SEQUENCE template_validation_id_seq START 1;
CREATE TABLE template_validations (
  id BIGINT PRIMARY KEY DEFAULT nextval('template_validation_id_seq'),
  model_type VARCHAR NOT NULL,
  version BIGINT,
  status VARCHAR NOT NULL CHECK (status IN ('exact', 'structural', 'unsupported', 'failed')),
  parameters BIGINT CHECK (parameters >= 0),
  expected_parameters BIGINT CHECK (expected_parameters >= 0),
  reason VARCHAR NOT NULL,
  seconds DOUBLE CHECK (seconds >= 0),
  validated_at TIMESTAMP NOT NULL,
  git_commit VARCHAR NOT NULL
);
)sql";

// The v9 performance_results table, under the name performance_results_v9 (schema v11 makes
// it again with one more column).
constexpr const char* kPerformanceResultsV9 = R"sql(
DROP VIEW latest_performance;
DROP VIEW model_hardware_compatibility;
CREATE TABLE performance_results_v9 (
  result_id BIGINT NOT NULL DEFAULT nextval('performance_result_id_seq'),
  run_id VARCHAR NOT NULL,
  model_id BIGINT NOT NULL,
  hardware_id BIGINT NOT NULL,
  execution_provider VARCHAR NOT NULL,
  provider_options_json JSON NOT NULL,
  session_options_json JSON NOT NULL,
  runtime_version VARCHAR NOT NULL,
  precision VARCHAR NOT NULL,
  graph_variant VARCHAR NOT NULL CHECK (graph_variant IN ('plain', 'fused')),
  batch_size BIGINT NOT NULL CHECK (batch_size > 0),
  seq_len BIGINT NOT NULL CHECK (seq_len >= 0),
  input_shapes_json JSON NOT NULL,
  threads INTEGER NOT NULL CHECK (threads >= 0),
  warmup_iterations INTEGER NOT NULL CHECK (warmup_iterations >= 0),
  iterations INTEGER NOT NULL CHECK (iterations >= 0),
  load_ms DOUBLE CHECK (load_ms >= 0),
  first_inference_ms DOUBLE CHECK (first_inference_ms >= 0),
  latency_mean_ms DOUBLE CHECK (latency_mean_ms >= 0),
  latency_stdev_ms DOUBLE CHECK (latency_stdev_ms >= 0),
  latency_min_ms DOUBLE CHECK (latency_min_ms >= 0),
  latency_max_ms DOUBLE CHECK (latency_max_ms >= 0),
  latency_p50_ms DOUBLE CHECK (latency_p50_ms >= 0),
  latency_p90_ms DOUBLE CHECK (latency_p90_ms >= 0),
  latency_p95_ms DOUBLE CHECK (latency_p95_ms >= 0),
  latency_p99_ms DOUBLE CHECK (latency_p99_ms >= 0),
  throughput_items_per_s DOUBLE CHECK (throughput_items_per_s >= 0),
  peak_rss_bytes BIGINT CHECK (peak_rss_bytes >= 0),
  samples_ms DOUBLE[] NOT NULL,
  scenario VARCHAR NOT NULL CHECK (scenario IN ('single-stream', 'offline', 'server', 'generate', 'load')),
  prompt_len BIGINT CHECK (prompt_len > 0),
  new_tokens BIGINT CHECK (new_tokens > 0),
  time_to_first_token_ms DOUBLE CHECK (time_to_first_token_ms >= 0),
  device_memory_process_bytes BIGINT CHECK (device_memory_process_bytes >= 0),
  device_memory_gpu_used_bytes BIGINT CHECK (device_memory_gpu_used_bytes >= 0),
  graph_optimization_level INTEGER CHECK (graph_optimization_level IN (0, 1, 2, 99)),
  tail_percentile DOUBLE CHECK (tail_percentile > 0 AND tail_percentile < 100),
  tail_early_stopping_ms DOUBLE CHECK (tail_early_stopping_ms >= 0),
  tail_confidence DOUBLE CHECK (tail_confidence > 0 AND tail_confidence < 1),
  tail_ci_low_ms DOUBLE CHECK (tail_ci_low_ms >= 0),
  tail_ci_high_ms DOUBLE CHECK (tail_ci_high_ms >= 0),
  tail_ci_level DOUBLE CHECK (tail_ci_level > 0 AND tail_ci_level < 1),
  target_qps DOUBLE CHECK (target_qps > 0),
  achieved_qps DOUBLE CHECK (achieved_qps >= 0),
  latency_bound_ms DOUBLE CHECK (latency_bound_ms > 0),
  memory_estimate_bytes BIGINT CHECK (memory_estimate_bytes >= 0),
  template_name VARCHAR,
  template_version BIGINT CHECK (template_version > 0),
  created_at TIMESTAMP NOT NULL,
  configuration_key UBIGINT NOT NULL,
  CHECK (latency_min_ms <= latency_max_ms)
);
INSERT INTO performance_results_v9 BY NAME SELECT * FROM performance_results;
DROP TABLE performance_results;
ALTER TABLE performance_results_v9 RENAME TO performance_results;
)sql";

// Schema v11: what was measured, by content (issue 19). A model gets the CID of the bytes it
// was built from (`content_cid`: its folder as a UnixFS directory, or its file, as `ipfs add
// --cid-version 1` computes them; NULL for seeded random weights and rows stored before), and a
// performance result the CID of the graph the runtime was given (`graph_cid`: CIDv1 raw of the
// ONNX bytes). graph_cid sits before created_at, where the positional writer fills it, so the
// table is rebuilt as v9 did (v9's DDL with the one column added).
const std::string kSchemaV11Cids = [] {
  std::string table = kPerformanceResultsV9;
  auto replace_all = [&](const std::string& from, const std::string& to) {
    for (size_t at = table.find(from); at != std::string::npos;
         at = table.find(from, at + to.size()))
      table.replace(at, from.size(), to);
  };
  replace_all("performance_results_v9", "performance_results_v11");
  replace_all("template_version BIGINT CHECK (template_version > 0),\n",
              "template_version BIGINT CHECK (template_version > 0),\n  graph_cid VARCHAR,\n");
  return table + "ALTER TABLE models ADD COLUMN content_cid VARCHAR;\n";
}();

// Schema v12: training steps (issue 21). Scenario 'training' (latencies are optimizer steps,
// throughput samples/s), its optimizer ('adamw', 'sgd-momentum'), loss ('cross-entropy',
// 'mse'), gradient accumulation (micro-batches per optimizer step), and the loss on the fixed
// batch at the first step and after loss_steps optimizer steps, so a broken gradient shows as
// a loss that does not fall. The new columns sit before created_at (the positional writer's
// order), so the table is rebuilt as v9 and v11 did; the configuration key gains the optimizer
// and the accumulation, so every row's key is computed again.
// Schema v13: the fleet's job queue and its workers (fleet/job_queue.h). In a DuckDB file they
// stay empty; on a PostgreSQL store the queue's statements run on them natively. And the latest
// result of each configuration with the model named by its content CID: the same bytes stored
// under two names or folders (two machines of a fleet) are one model there.
constexpr const char* kSchemaV13Fleet = R"sql(
CREATE TABLE fleet_jobs (
  job_id BIGINT PRIMARY KEY,
  sweep_id VARCHAR NOT NULL,
  model VARCHAR NOT NULL,
  model_cid VARCHAR,
  platform VARCHAR NOT NULL,
  arguments JSON NOT NULL,
  state VARCHAR NOT NULL CHECK (state IN ('queued', 'running', 'done', 'dead')),
  attempts INTEGER NOT NULL CHECK (attempts >= 0),
  max_attempts INTEGER NOT NULL CHECK (max_attempts >= 1),
  worker_id VARCHAR,
  lease_expires_at TIMESTAMP,
  run_id VARCHAR,
  last_error VARCHAR,
  submitted_at TIMESTAMP NOT NULL,
  started_at TIMESTAMP,
  finished_at TIMESTAMP
);

CREATE TABLE fleet_workers (
  worker_id VARCHAR PRIMARY KEY,
  hostname VARCHAR NOT NULL,
  platforms VARCHAR NOT NULL,
  hardware JSON NOT NULL,
  started_at TIMESTAMP NOT NULL,
  heartbeat_at TIMESTAMP NOT NULL,
  jobs_done BIGINT NOT NULL,
  state VARCHAR NOT NULL
);

CREATE VIEW latest_performance_by_cid AS
SELECT p.*, m.name AS model_name, m.content_cid AS model_cid, h.platform, h.device_name,
       h.hostname AS hardware_hostname, r.started_at AS run_started_at
FROM performance_results p
JOIN runs r ON r.run_id = p.run_id
JOIN models m ON m.model_id = p.model_id
JOIN hardware_platforms h ON h.hardware_id = p.hardware_id
QUALIFY row_number() OVER (
  PARTITION BY COALESCE(m.content_cid, 'model:' || p.model_id), p.hardware_id,
    p.execution_provider, p.precision, p.graph_variant, p.scenario, p.batch_size, p.seq_len,
    p.prompt_len, p.new_tokens, p.threads, p.graph_optimization_level,
    CAST(p.provider_options_json AS VARCHAR), p.target_qps, p.training_optimizer,
    p.grad_accum_steps
  ORDER BY r.started_at DESC, p.result_id DESC) = 1;
)sql";

const std::string kSchemaV12Training = [] {
  std::string table = kPerformanceResultsV9;
  auto replace_one = [&](const std::string& from, const std::string& to) {
    const size_t at = table.find(from);
    if (at == std::string::npos) throw std::logic_error("schema v12: '" + from + "' not found");
    table.replace(at, from.size(), to);
  };
  for (size_t at = table.find("performance_results_v9"); at != std::string::npos;
       at = table.find("performance_results_v9"))
    table.replace(at, 22, "performance_results_v12");
  replace_one("'generate', 'load')", "'generate', 'load', 'training')");
  replace_one("template_version BIGINT CHECK (template_version > 0),\n",
              "template_version BIGINT CHECK (template_version > 0),\n  graph_cid VARCHAR,\n"
              "  training_optimizer VARCHAR,\n  training_loss VARCHAR,\n"
              "  grad_accum_steps BIGINT CHECK (grad_accum_steps > 0),\n"
              "  loss_first DOUBLE,\n  loss_last DOUBLE,\n"
              "  loss_steps BIGINT CHECK (loss_steps >= 0),\n");
  return table + "UPDATE performance_results SET configuration_key = " + kConfigurationKeySql +
         ";\n";
}();

// Schema v10: performance predictors (issue 17). `prediction_models` keeps every trained
// predictor with its training rows' range, its validation figures and its coefficients and
// trees; `predictions` every figure predicted with one, so a prediction traces to its model.
constexpr const char* kSchemaV10Predictions = R"sql(
CREATE TABLE prediction_models (
  id VARCHAR PRIMARY KEY,
  created_at TIMESTAMP NOT NULL,
  target VARCHAR NOT NULL,
  kind VARCHAR NOT NULL,
  library VARCHAR NOT NULL,
  git_commit VARCHAR NOT NULL,
  training_rows BIGINT NOT NULL CHECK (training_rows > 0),
  training_range JSON NOT NULL,
  validation JSON NOT NULL,
  model JSON NOT NULL
);
CREATE TABLE predictions (
  prediction_model_id VARCHAR NOT NULL,  -- prediction_models.id (no foreign keys: schema v6)
  created_at TIMESTAMP NOT NULL,
  model_name VARCHAR NOT NULL,
  content_hash VARCHAR NOT NULL,
  hardware VARCHAR NOT NULL,
  precision VARCHAR NOT NULL,
  graph_variant VARCHAR NOT NULL,
  batch_size BIGINT NOT NULL CHECK (batch_size > 0),
  seq_len BIGINT NOT NULL CHECK (seq_len >= 0),
  predicted DOUBLE NOT NULL CHECK (predicted > 0),
  low DOUBLE NOT NULL CHECK (low <= predicted),
  high DOUBLE NOT NULL CHECK (high >= predicted)
);
)sql";

constexpr const char* kCreateSchemaVersion = R"sql(
CREATE TABLE IF NOT EXISTS schema_version (
  version INTEGER PRIMARY KEY,
  applied_at TIMESTAMP NOT NULL,
  description VARCHAR NOT NULL
))sql";

}  // namespace

const std::vector<MigrationStep>& MigrationSteps() {
  static const std::vector<MigrationStep> steps = {
      {1, "runs, hardware, models, performance and compatibility results",
       std::string(kSchemaV1) + kLatestPerformanceView},
      {2, "device memory of GPU runs (process and whole GPU)",
       std::string(kSchemaV2) + kLatestPerformanceView},
      {3,
       "scenarios offline and server, tail-latency confidence, QPS, graph optimisation "
       "level, memory estimate; configuration and 'skipped' status of compatibility results",
       std::string(kSchemaV3) + kLatestPerformanceViewV3},
      {4,
       "runs' branch and origin (measured or imported), models' family, the "
       "model_hardware_compatibility view",
       std::string(kSchemaV4) + kModelHardwareCompatibilityView},
      {5, "a stored configuration key for the latest result of each configuration", kSchemaV5},
      {6,
       "fast ingest: result tables without foreign keys, performance_results without a primary "
       "key index, its columns in the writer's order",
       std::string(kSchemaV6Tables) + kLatestPerformanceViewV5 + kModelHardwareCompatibilityView},
      {7,
       "runs' state (running, interrupted, complete): a sweep stores each configuration as it "
       "finishes",
       std::string(kSchemaV7Runs) + kLatestPerformanceViewV5 + kModelHardwareCompatibilityView},
      {8,
       "models' config hash in their identity; measured values the source did not have are "
       "NULL (imported zeros converted)",
       kSchemaV8 + kLatestPerformanceViewV5 + kModelHardwareCompatibilityView},
      {9,
       "architecture templates (versions, variables, helpers, dependencies, validations); "
       "performance results record the template and version their graph was built from",
       std::string(kSchemaV9Templates) + kPerformanceResultsV9 + kLatestPerformanceViewV5 +
           kModelHardwareCompatibilityView},
      {10,
       "performance predictors (their training range, validation and model) and the "
       "predictions made with them",
       kSchemaV10Predictions},
      {11,
       "content identifiers: models' CID (UnixFS, CIDv1) and each performance result's graph "
       "CID (CIDv1 raw of the ONNX bytes)",
       kSchemaV11Cids + kLatestPerformanceViewV5 + kModelHardwareCompatibilityView},
      {12,
       "training steps: scenario 'training' with its optimizer, loss, gradient accumulation and "
       "the loss at the first step and after N steps; the configuration key includes the "
       "optimizer and accumulation",
       kSchemaV12Training + kLatestPerformanceViewV5 + kModelHardwareCompatibilityView},
      {13,
       "the fleet's job queue (jobs with leases, attempts and a dead state) and its workers; "
       "the latest_performance_by_cid view",
       kSchemaV13Fleet},
  };
  return steps;
}

int CurrentSchemaVersion() { return MigrationSteps().back().version; }

int ReadSchemaVersion(duckdb_connection con, const std::string& path) {
  const OnError on_error{ErrorKind::kDatabase,
                         fmt::format("cannot read the schema version of database '{}'", path),
                         "check that it is a results database of this tool"};
  Result exists = Run(con,
                      "SELECT count(*) FROM duckdb_tables() "
                      "WHERE schema_name = 'main' AND table_name = 'schema_version' "
                      "AND NOT temporary",
                      on_error);
  if (exists.FirstInt64() == 0) return 0;
  return static_cast<int>(
      Run(con, "SELECT COALESCE(max(version), 0) FROM schema_version", on_error).FirstInt64());
}

void CheckNotNewer(int version, const std::string& path) {
  if (version > CurrentSchemaVersion()) {
    throw core::Error(ErrorKind::kDatabase,
                      fmt::format("database '{}' has schema version {}, newer than this tool's "
                                  "{}; upgrade ipfs-accelerate",
                                  path, version, CurrentSchemaVersion()));
  }
}

void Migrate(duckdb_connection con, const std::string& path, int target_version) {
  const int target = target_version == 0 ? CurrentSchemaVersion() : target_version;
  bool migrated = false;
  Run(con, "BEGIN TRANSACTION",
      {ErrorKind::kDatabase, fmt::format("cannot start migrating database '{}'", path), ""});
  try {
    Run(con, kCreateSchemaVersion,
        {ErrorKind::kDatabase,
         fmt::format("cannot create the schema_version table in database '{}'", path),
         "the database is unchanged; pass --db with a new file"});
    const int have = ReadSchemaVersion(con, path);
    CheckNotNewer(have, path);
    migrated = have < target;
    for (const MigrationStep& step : MigrationSteps()) {
      if (step.version <= have || step.version > target) continue;
      const OnError on_error{
          ErrorKind::kDatabase,
          fmt::format("migrating database '{}' to schema version {} failed", path, step.version),
          "the database is unchanged; if it holds tables of another program, pass --db with a "
          "new file"};
      Run(con, step.sql, on_error);
      Statement record(con,
                       "INSERT INTO schema_version (version, applied_at, description) "
                       "VALUES (?, CAST(? AS TIMESTAMP), ?)",
                       on_error);
      record.AddInt(step.version).AddText(UtcNow()).AddText(step.description).Execute(on_error);
    }
    Run(con, "COMMIT",
        {ErrorKind::kDatabase,
         fmt::format("committing the migration of database '{}' failed", path),
         "the database is unchanged; check free disk space and retry"});
  } catch (...) {
    RollbackQuietly(con);
    throw;
  }
  // DuckDB 1.5 cannot replay an ALTER TABLE ... ADD COLUMN from its write-ahead log (an internal
  // error on the next open), so a process that dies after migrating must not leave one there.
  if (!migrated) return;
  Run(con, "CHECKPOINT",
      {ErrorKind::kDatabase,
       fmt::format("checkpointing database '{}' after migrating failed", path),
       "check free disk space and retry"});
}

}  // namespace ipfs_accel::store
