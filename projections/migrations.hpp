// Schema migrations for the read side (issue 4 item 2).
//
// Migrations are numbered SQL files `NNNN_name.sql` (four digits, a version of
// at least 1, then `_` and a name of letters, digits and `_`) in one directory,
// by default projections/migrations/. They are applied in order of their
// number, each in its own transaction together with its row in
// `schema_migrations(version, name, applied_at)`, so each is applied exactly
// once: a migration that fails rolls back entirely and stops the run, leaving
// the earlier ones applied. A file therefore must not contain transaction
// control (BEGIN/COMMIT) or statements that cannot run in a transaction.
//
// Concurrent runs (two processes starting at once) are serialised on a
// transaction-scoped advisory lock, so nothing is applied twice.
#pragma once

#include <string>

#include "events/result.hpp"

#ifndef KW_MIGRATIONS_DIR
#error "KW_MIGRATIONS_DIR is defined by kw_projections: link it"
#endif

namespace kw::projections {

// Applies the migrations of `dir` that are not yet recorded in the database at
// `database_url` (a libpq URL or keyword/value string; a connect_timeout of
// 10 s is added when it names none). Returns how many were applied.
// Errors (nothing is applied unless said otherwise):
//   invalid      the directory holds a file (other than a dotfile) not named
//                NNNN_name.sql, or two files with one number; or a migration's
//                SQL failed — the message names the file and carries
//                PostgreSQL's message, and the earlier migrations stay applied;
//   not_found    `dir` is not a directory;
//   unavailable  the database cannot be reached or the connection broke.
kw::result<int> apply_migrations(const std::string& database_url,
                                 const std::string& dir = KW_MIGRATIONS_DIR);

}  // namespace kw::projections
