#pragma once
// What POST /api/sql lets run: one query statement (SELECT, WITH ... SELECT, VALUES, FROM ...,
// DESCRIBE, SHOW, SUMMARIZE) as DuckDB's own parser sees it (store::StatementShape), naming no
// function that reads or lists files (read_csv*, read_parquet, read_json*, glob, ...), runs SQL
// given as text (query, query_table, json_execute_serialized_sql), or changes state (nextval,
// checkpoint, secrets, logging), and no table by a file path or URL ('x.csv'). Everything else
// (INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, ATTACH, DETACH, COPY, INSTALL, LOAD, PRAGMA, SET,
// EXPORT, IMPORT, CALL, transactions, several statements) is refused before it runs. The
// database also has external access off (StorePool), so what gets past this still cannot open a
// file.

#include <string>

#include "ipfs_accel/store/query.h"

namespace ipfs_accel::server {

// Why the statement is refused, one line; "" when it may run.
std::string SqlRefusal(const store::StatementShape& shape);

}  // namespace ipfs_accel::server
