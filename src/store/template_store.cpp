// The template database (schema v9): writing templates and validation outcomes, and reading
// them back. See ipfs_accel/store/template_records.h.

#include <fmt/format.h>

#include "ipfs_accel/store/template_records.h"
#include "store/duckdb_result_store.h"

namespace ipfs_accel::store {
namespace {

using core::Error;
using core::ErrorKind;

std::optional<std::string> UnlessEmpty(const std::string& text) {
  return text.empty() ? std::nullopt : std::optional(text);
}

// The content hash stored for (model_type, version), or nullopt when that version is not stored.
std::optional<std::string> StoredHash(duckdb_connection con, const TemplateRecord& t,
                                      const OnError& on_error) {
  Result found =
      Statement(con, "SELECT content_hash FROM templates WHERE model_type = ? AND version = ?",
                on_error)
          .AddText(t.model_type)
          .AddInt(t.version)
          .Execute(on_error);
  if (found.RowCount() == 0) return std::nullopt;
  char* text = duckdb_value_varchar(found.get(), 0, 0);
  std::string hash = text ? text : "";
  duckdb_free(text);
  return hash;
}

std::string ReasonOf(const TemplateRecord& t) {
  for (const auto& h : t.history)
    if (h.version == t.version) return h.reason;
  return "";
}

}  // namespace

void DuckDbResultStore::WriteTemplates(const std::vector<TemplateRecord>& templates,
                                       const std::string& git_commit) {
  const std::string label =
      fmt::format("storing {} templates in database '{}'", templates.size(), path_);
  const std::string loaded_at = UtcNow();
  WriteInTransaction(label, [&](bool) {
    for (const TemplateRecord& t : templates) InsertTemplate(t, git_commit, loaded_at);
  });
}

void DuckDbResultStore::InsertTemplate(const TemplateRecord& t, const std::string& git_commit,
                                       const std::string& loaded_at) {
  duckdb_connection con = con_->get();
  const OnError on_error{ErrorKind::kDatabase,
                         fmt::format("storing template '{}' version {} in database '{}' failed",
                                     t.model_type, t.version, path_),
                         "nothing was written (the database is unchanged)"};
  if (const auto hash = StoredHash(con, t, on_error)) {
    if (*hash == t.content_hash) return;
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("template '{}' ({}) version {} is stored in database '{}' with other "
                            "content ({} there, {} here); bump its version and add a history "
                            "entry saying what changed",
                            t.model_type, t.source, t.version, path_, *hash, t.content_hash));
  }
  Statement(con,
            "INSERT INTO templates (model_type, version, builder, inherits, abstract, "
            "hf_config_class, source, content_hash, resolved, git_commit, loaded_at) VALUES (?, ?, "
            "?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS TIMESTAMP))",
            on_error)
      .AddText(t.model_type)
      .AddInt(t.version)
      .AddText(t.builder)
      .AddOptional(UnlessEmpty(t.inherits))
      .AddInt(t.abstract ? 1 : 0)
      .AddOptional(UnlessEmpty(t.hf_config_class))
      .AddText(t.source)
      .AddText(t.content_hash)
      .AddText(t.resolved_json)
      .AddText(git_commit)
      .AddText(loaded_at)
      .Execute(on_error);

  // History: every entry the file states, once; the loaded version gets its hash and commit.
  Statement history(con,
                    "INSERT INTO template_versions (model_type, version, git_commit, reason, "
                    "content_hash, recorded_at) VALUES (?, ?, ?, ?, ?, CAST(? AS TIMESTAMP)) "
                    "ON CONFLICT DO NOTHING",
                    on_error);
  for (const auto& h : t.history)
    if (h.version != t.version)
      history.AddText(t.model_type)
          .AddInt(h.version)
          .AddNull()
          .AddText(h.reason)
          .AddNull()
          .AddText(loaded_at)
          .Execute(on_error);
  Statement(con,
            "INSERT INTO template_versions (model_type, version, git_commit, reason, "
            "content_hash, recorded_at) VALUES (?, ?, ?, ?, ?, CAST(? AS TIMESTAMP)) "
            "ON CONFLICT DO UPDATE SET git_commit = COALESCE(template_versions.git_commit, "
            "excluded.git_commit), content_hash = COALESCE(template_versions.content_hash, "
            "excluded.content_hash)",
            on_error)
      .AddText(t.model_type)
      .AddInt(t.version)
      .AddText(git_commit)
      .AddText(ReasonOf(t))
      .AddText(t.content_hash)
      .AddText(loaded_at)
      .Execute(on_error);

  Statement variable(con, "INSERT INTO template_variables VALUES (?, ?, ?, ?, ?)", on_error);
  for (const auto& v : t.variables)
    variable.AddText(t.model_type)
        .AddInt(t.version)
        .AddText(v.key)
        .AddText(v.canonical)
        .AddText(v.hf_default_json)
        .Execute(on_error);
  Statement piece(con, "INSERT INTO template_helpers VALUES (?, ?, ?, ?)", on_error);
  for (const auto& p : t.pieces)
    piece.AddText(t.model_type)
        .AddInt(t.version)
        .AddText(p.piece)
        .AddText(p.value_json)
        .Execute(on_error);
  Statement dependency(con, "INSERT INTO template_dependencies VALUES (?, ?, ?, ?)", on_error);
  for (const auto& d : t.dependencies)
    dependency.AddText(t.model_type)
        .AddInt(t.version)
        .AddText(d.depends_on)
        .AddText(d.kind)
        .Execute(on_error);
}

void DuckDbResultStore::WriteTemplateValidations(
    const std::vector<TemplateValidationRecord>& outcomes) {
  const std::string label =
      fmt::format("storing {} template validations in database '{}'", outcomes.size(), path_);
  WriteInTransaction(label, [&](bool) {
    const OnError on_error{ErrorKind::kDatabase, label + " failed",
                           "nothing was written (the database is unchanged)"};
    Statement insert(con_->get(),
                     "INSERT INTO template_validations (model_type, version, status, parameters, "
                     "expected_parameters, reason, seconds, validated_at, git_commit) VALUES (?, "
                     "?, ?, ?, ?, ?, ?, CAST(? AS TIMESTAMP), ?)",
                     on_error);
    for (const auto& v : outcomes)
      insert.AddText(v.model_type)
          .AddOptional(v.version)
          .AddText(v.status)
          .AddOptional(v.parameters)
          .AddOptional(v.expected_parameters)
          .AddText(v.reason)
          .AddOptional(v.seconds)
          .AddText(v.validated_at)
          .AddText(v.git_commit)
          .Execute(on_error);
  });
}

namespace {

std::optional<int64_t> OptionalInt(const std::optional<std::string>& cell) {
  if (!cell) return std::nullopt;
  return std::stoll(*cell);
}

}  // namespace

std::map<std::string, TemplateValidationRecord> LatestTemplateValidations(ResultStore& store) {
  const QueryResult rows = store.Query(
      "SELECT model_type, version, status, parameters, expected_parameters, reason, seconds, "
      "strftime(validated_at, '%Y-%m-%dT%H:%M:%SZ'), git_commit FROM template_validations "
      "QUALIFY row_number() OVER (PARTITION BY model_type ORDER BY validated_at DESC, id DESC) "
      "= 1");
  std::map<std::string, TemplateValidationRecord> out;
  for (const auto& r : rows.rows) {
    TemplateValidationRecord v{.model_type = r[0].value_or(""),
                               .version = OptionalInt(r[1]),
                               .status = r[2].value_or(""),
                               .parameters = OptionalInt(r[3]),
                               .expected_parameters = OptionalInt(r[4]),
                               .reason = r[5].value_or(""),
                               .seconds = r[6] ? std::optional(std::stod(*r[6])) : std::nullopt,
                               .validated_at = r[7].value_or(""),
                               .git_commit = r[8].value_or("")};
    out.emplace(v.model_type, std::move(v));
  }
  return out;
}

std::optional<StoredTemplate> FindStoredTemplate(ResultStore& store, const std::string& model_type,
                                                 std::optional<int64_t> version) {
  const QueryResult rows = store.Query(fmt::format(
      "SELECT model_type, version, builder, COALESCE(inherits, ''), content_hash, "
      "CAST(resolved AS VARCHAR), git_commit, strftime(loaded_at, '%Y-%m-%dT%H:%M:%SZ') "
      "FROM templates WHERE model_type = {}{} ORDER BY version DESC LIMIT 1",
      Literal(model_type), version ? fmt::format(" AND version = {}", *version) : ""));
  if (rows.rows.empty()) return std::nullopt;
  const auto& r = rows.rows[0];
  return StoredTemplate{.model_type = r[0].value_or(""),
                        .version = std::stoll(r[1].value_or("0")),
                        .builder = r[2].value_or(""),
                        .inherits = r[3].value_or(""),
                        .content_hash = r[4].value_or(""),
                        .resolved_json = r[5].value_or(""),
                        .git_commit = r[6].value_or(""),
                        .loaded_at = r[7].value_or("")};
}

}  // namespace ipfs_accel::store
