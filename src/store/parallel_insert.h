#pragma once
// Rows into a table by one INSERT … SELECT from a table function that DuckDB runs on all its
// threads, each filling chunks of its own. DuckDB's work per stored value (statistics,
// compression of full row groups) is then spread over the threads: on a 46-column table about
// twice as fast as one appender on 2 cores (bench/store_ingest). It is one statement in the
// caller's transaction; DuckDB checks the table's constraints; column defaults do not apply.
// Rows land in no particular physical order: readers must order by a column.

#include <duckdb.h>

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "store/chunk_writer.h"
#include "store/duckdb_handle.h"

namespace ipfs_accel::store {

// Writes rows [first, first + count) into `rows`, in order, ending each with rows.EndRow().
// Called from DuckDB's threads at once for disjoint ranges: it may only read shared state.
// An exception from it fails the insert with its message.
using RowFiller = std::function<void(size_t first, size_t count, ChunkWriter& rows)>;

// Makes the table function known to `con`'s database; to be called on each connection that
// inserts, outside a transaction (again on one database is harmless). Throws per `on_error`.
void RegisterParallelInsert(duckdb_connection con, const OnError& on_error);

// Inserts `rows` rows, made by `fill`, into `table`: its first columns of `types` from `fill`
// (kInternal when they are not of those types), its last ones from the SQL expressions in
// `computed` over the filled columns' names, which DuckDB evaluates on its threads too.
// Throws core::Error per `on_error` when DuckDB refuses them.
void ParallelInsert(duckdb_connection con, const std::string& table,
                    const std::vector<ChunkWriter::Type>& types, size_t rows, const RowFiller& fill,
                    const OnError& on_error, const std::vector<std::string>& computed = {});

}  // namespace ipfs_accel::store
