#include "store/parallel_insert.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <unordered_map>

namespace ipfs_accel::store {
namespace {

constexpr const char* kFunctionName = "ipfs_accel_parallel_rows";

// One insert in progress: what the table function's bind finds by the token in its argument.
struct Job {
  const std::vector<ChunkWriter::Type>* types;
  std::vector<std::string> names;
  std::vector<duckdb_logical_type> logical;  // the table's column types, owned by the caller
  size_t rows;
  const RowFiller* fill;
};

// Inserts in progress in this process, by token. The token travels as the function's SQL
// argument, so a stray call with a made-up token finds nothing instead of a dangling pointer.
struct Registry {
  std::mutex mutex;
  std::unordered_map<int64_t, Job*> jobs;
  int64_t next_token = 1;
};
Registry& Jobs() {
  static Registry registry;
  return registry;
}

// Rows are handed out a row group (DuckDB's 122,880) at a time, like DuckDB's own table scans:
// each thread then writes whole row groups of its own, which DuckDB compresses and writes in
// that thread. Handing out single chunks left every thread with scattered partial row groups
// that DuckDB merges on one thread at the end (16 threads: 6x slower than its own copy).
constexpr size_t kRowsPerClaim = 122880;

struct ScanState {
  Job* job;
  std::atomic<size_t> next{0};
};

struct ThreadState {
  size_t next = 0, end = 0;  // this thread's claimed rows still to write
};

void Bind(duckdb_bind_info info) {
  duckdb_value argument = duckdb_bind_get_parameter(info, 0);
  const int64_t token = duckdb_get_int64(argument);
  duckdb_destroy_value(&argument);
  Job* job = nullptr;
  {
    Registry& r = Jobs();
    std::lock_guard lock(r.mutex);
    if (auto it = r.jobs.find(token); it != r.jobs.end()) job = it->second;
  }
  if (!job) {
    duckdb_bind_set_error(info, fmt::format("no insert in progress has token {}", token).c_str());
    return;
  }
  for (size_t c = 0; c < job->logical.size(); ++c)
    duckdb_bind_add_result_column(info, job->names[c].c_str(), job->logical[c]);
  duckdb_bind_set_bind_data(info, job, nullptr);  // owned by ParallelInsert's frame
}

void Init(duckdb_init_info info) {
  auto* state = new ScanState{static_cast<Job*>(duckdb_init_get_bind_data(info))};
  duckdb_init_set_init_data(info, state, [](void* p) { delete static_cast<ScanState*>(p); });
  const size_t claims = (state->job->rows + kRowsPerClaim - 1) / kRowsPerClaim;
  duckdb_init_set_max_threads(info, std::max<size_t>(1, claims));
}

void InitThread(duckdb_init_info info) {
  duckdb_init_set_init_data(info, new ThreadState,
                            [](void* p) { delete static_cast<ThreadState*>(p); });
}

void Scan(duckdb_function_info info, duckdb_data_chunk out) {
  auto* state = static_cast<ScanState*>(duckdb_function_get_init_data(info));
  auto* mine = static_cast<ThreadState*>(duckdb_function_get_local_init_data(info));
  const size_t rows = state->job->rows;
  if (mine->next == mine->end) {
    const size_t first = state->next.fetch_add(kRowsPerClaim);
    mine->next = std::min(first, rows);
    mine->end = std::min(first + kRowsPerClaim, rows);
  }
  if (mine->next == mine->end) {
    duckdb_data_chunk_set_size(out, 0);
    return;
  }
  const size_t first = mine->next;
  const size_t count = std::min<size_t>(duckdb_vector_size(), mine->end - first);
  mine->next += count;
  ChunkWriter rows_out(*state->job->types, out);
  try {
    (*state->job->fill)(first, count, rows_out);
  } catch (const std::exception& e) {
    duckdb_function_set_error(info, e.what());
  } catch (...) {
    duckdb_function_set_error(info, "the row filler failed");
  }
}

bool FunctionExists(duckdb_connection con) {
  duckdb_result result;
  const std::string sql =
      fmt::format("SELECT 1 FROM duckdb_functions() WHERE function_name = '{}'", kFunctionName);
  const bool found =
      duckdb_query(con, sql.c_str(), &result) == DuckDBSuccess && duckdb_row_count(&result) > 0;
  duckdb_destroy_result(&result);
  return found;
}

// The session's preserve_insertion_order off while it lives: DuckDB inserts from one thread
// when it must keep the source's order.
class UnorderedInserts {
 public:
  UnorderedInserts(duckdb_connection con, const OnError& on_error) : con_(con) {
    Run(con_, "SET SESSION preserve_insertion_order = false", on_error);
  }
  ~UnorderedInserts() {
    duckdb_result result;
    duckdb_query(con_, "RESET SESSION preserve_insertion_order", &result);
    duckdb_destroy_result(&result);
  }
  UnorderedInserts(const UnorderedInserts&) = delete;
  UnorderedInserts& operator=(const UnorderedInserts&) = delete;

 private:
  duckdb_connection con_;
};

}  // namespace

void RegisterParallelInsert(duckdb_connection con, const OnError& on_error) {
  duckdb_table_function function = duckdb_create_table_function();
  duckdb_table_function_set_name(function, kFunctionName);
  duckdb_logical_type bigint = duckdb_create_logical_type(DUCKDB_TYPE_BIGINT);
  duckdb_table_function_add_parameter(function, bigint);
  duckdb_destroy_logical_type(&bigint);
  duckdb_table_function_set_bind(function, Bind);
  duckdb_table_function_set_init(function, Init);
  duckdb_table_function_set_local_init(function, InitThread);
  duckdb_table_function_set_function(function, Scan);
  const bool registered = duckdb_register_table_function(con, function) == DuckDBSuccess;
  duckdb_destroy_table_function(&function);
  if (!registered && !FunctionExists(con)) {
    ThrowDuckDbError(on_error, fmt::format("could not register {}", kFunctionName),
                     DUCKDB_ERROR_INVALID);
  }
}

void ParallelInsert(duckdb_connection con, const std::string& table,
                    const std::vector<ChunkWriter::Type>& types, size_t rows, const RowFiller& fill,
                    const OnError& on_error, const std::vector<std::string>& computed) {
  if (rows == 0) return;
  Job job{&types, {}, {}, rows, &fill};
  {
    Result shape = Run(con, fmt::format("SELECT * FROM \"{}\" LIMIT 0", table), on_error);
    const idx_t count = duckdb_column_count(shape.get()) -
                        std::min<idx_t>(computed.size(), duckdb_column_count(shape.get()));
    for (idx_t c = 0; c < count; ++c) {
      job.names.emplace_back(duckdb_column_name(shape.get(), c));
      job.logical.push_back(duckdb_column_logical_type(shape.get(), c));
    }
  }
  struct TypesOwner {
    std::vector<duckdb_logical_type>& types;
    ~TypesOwner() {
      for (auto& t : types) duckdb_destroy_logical_type(&t);
    }
  } owner{job.logical};
  bool same = job.logical.size() == types.size();
  for (size_t c = 0; same && c < types.size(); ++c) same = TypeMatches(types[c], job.logical[c]);
  if (!same) {
    throw core::Error(
        core::ErrorKind::kInternal,
        fmt::format("{}: table '{}' does not have the {} columns of the types this "
                    "writer inserts (it has {} besides the {} computed); the schema "
                    "and the writer differ",
                    on_error.what, table, types.size(), job.logical.size(), computed.size()));
  }

  Registry& registry = Jobs();
  int64_t token = 0;
  {
    std::lock_guard lock(registry.mutex);
    token = registry.next_token++;
    registry.jobs.emplace(token, &job);
  }
  struct Unregister {
    Registry& registry;
    int64_t token;
    ~Unregister() {
      std::lock_guard lock(registry.mutex);
      registry.jobs.erase(token);
    }
  } unregister{registry, token};
  UnorderedInserts unordered(con, on_error);
  std::string select = "*";
  for (const std::string& expression : computed) select += ", " + expression;
  Run(con,
      fmt::format("INSERT INTO \"{}\" SELECT {} FROM {}({})", table, select, kFunctionName, token),
      on_error);
}

}  // namespace ipfs_accel::store
