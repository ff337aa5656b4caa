// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Writing: the database is built in memory, serialised, and written with
// write_file_atomically().  Reading: the file is read once and opened
// read-only from memory (sqlite3_deserialize), so the loader works on bytes
// and the fuzz target exercises exactly the code a file goes through.
//
// Validation, in order, so each failure gets the most useful sentence: SQLite
// header (not a database at all), application id (someone else's database),
// format version (a newer writer), declared size (truncated), SQLite's own
// structural check, our keys and values, then every template (label, blob
// length, finite values, unit length), the template count and the content
// digest (a bit flipped inside a label or an embedding).
#include "gallery_file.h"

#include <sqlite3.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>

#include "atomic_file.h"
#include "digest.h"
#include "errors.h"

namespace siamese {
namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "gallery files store little-endian floats; this code copies them as they are");

constexpr int kApplicationId = 0x534d474c;  // "SMGL"
constexpr int kFormatVersion = 1;
constexpr const char *kFormatName = "siamesematch-gallery";
constexpr const char *kEmbeddingType = "float32-le";
// Stored embeddings are L2-normalised (or all zero, for a black image).
constexpr double kUnitTolerance = 1e-3;
constexpr int kMaxDimension = 1 << 16;

constexpr const char *kSchema = R"sql(
CREATE TABLE gallery (
  key   TEXT PRIMARY KEY NOT NULL,
  value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE templates (
  id            INTEGER PRIMARY KEY,
  label         TEXT NOT NULL,
  embedding     BLOB NOT NULL,
  source        TEXT NOT NULL,
  source_sha256 TEXT NOT NULL,
  enrolled      TEXT NOT NULL
);
CREATE INDEX templates_by_label ON templates (label);
)sql";

// An error about the file, for every failure to read it.
[[noreturn]] void damaged(const std::string &source, const std::string &what) {
  throw Error(ErrorKind::kOpenRead, "The gallery file " + source + " " + what + ".");
}

class Database {
 public:
  explicit Database(const std::string &source) : source_(source) {
    if (sqlite3_open_v2(":memory:", &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_MEMORY, nullptr) !=
        SQLITE_OK) {
      sqlite3_close(db_);
      throw Error(ErrorKind::kSettings, "SQLite cannot open an in-memory database.");
    }
  }
  ~Database() { sqlite3_close(db_); }
  Database(const Database &) = delete;
  Database &operator=(const Database &) = delete;

  sqlite3 *get() const { return db_; }
  std::string message() const { return sqlite3_errmsg(db_); }

  void execute(const std::string &sql) {
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK)
      damaged(source_, "cannot be processed: " + message());
  }

 private:
  sqlite3 *db_ = nullptr;
  std::string source_;
};

class Statement {
 public:
  Statement(Database &db, const char *sql, const std::string &source) : db_(db) {
    if (sqlite3_prepare_v2(db.get(), sql, -1, &statement_, nullptr) != SQLITE_OK)
      damaged(source, "does not hold the tables of a gallery (" + db.message() + ")");
  }
  ~Statement() { sqlite3_finalize(statement_); }
  Statement(const Statement &) = delete;
  Statement &operator=(const Statement &) = delete;

  sqlite3_stmt *get() const { return statement_; }
  // SQLITE_ROW or SQLITE_DONE; anything else is reported as damage.
  int step(const std::string &source) {
    const int status = sqlite3_step(statement_);
    if (status != SQLITE_ROW && status != SQLITE_DONE)
      damaged(source, "is damaged or truncated (" + db_.message() + ")");
    return status;
  }
  std::string text(int column) const {
    const auto *value = sqlite3_column_text(statement_, column);
    return value ? reinterpret_cast<const char *>(value) : "";
  }
  void bind(int index, const std::string &text) {
    sqlite3_bind_text(statement_, index, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
  }

 private:
  Database &db_;
  sqlite3_stmt *statement_ = nullptr;
};

uint32_t big_endian(const std::string &bytes, std::size_t offset, int length) {
  uint32_t value = 0;
  for (int i = 0; i < length; ++i)
    value = (value << 8) | static_cast<unsigned char>(bytes[offset + i]);
  return value;
}

// The header checks that give a precise sentence before SQLite is involved.
void check_header(const std::string &bytes, const std::string &source) {
  constexpr std::size_t kHeaderSize = 100;
  static const std::string kMagic("SQLite format 3\0", 16);
  if (bytes.size() < kHeaderSize || bytes.compare(0, kMagic.size(), kMagic) != 0)
    damaged(source, "is not a siamesematch gallery: it is not an SQLite database (a gallery "
                    "file is written by siamese-gallery or the siamesematch element)");
  if (big_endian(bytes, 68, 4) != static_cast<uint32_t>(kApplicationId))
    damaged(source, "is an SQLite database but not a siamesematch gallery (its application id "
                    "is not \"SMGL\")");
  const uint32_t version = big_endian(bytes, 60, 4);
  if (version != kFormatVersion)
    damaged(source, "has gallery format version " + std::to_string(version) +
                        "; this program reads version " + std::to_string(kFormatVersion) +
                        (version > kFormatVersion ? " (update siamesematch)" : ""));
  uint32_t page_size = big_endian(bytes, 16, 2);
  if (page_size == 1) page_size = 65536;
  const uint64_t declared = uint64_t(page_size) * big_endian(bytes, 28, 4);
  if (bytes.size() < declared)
    damaged(source, "is truncated: it has " + std::to_string(bytes.size()) +
                        " bytes where its header declares " + std::to_string(declared));
}

bool is_hex_digest(const std::string &text) {
  return text.size() == 64 &&
         text.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// content_sha256 covers, per template in id order: its label, embedding
// bytes, source, source_sha256 and enrolled, each followed by a zero byte.
void add_to_content_digest(const std::string &label, std::string_view embedding,
                           const TemplateSource &origin, Sha256 &digest) {
  for (const std::string_view field :
       {std::string_view(label), embedding, std::string_view(origin.path),
        std::string_view(origin.sha256), std::string_view(origin.enrolled)}) {
    digest.update(field);
    digest.update(std::string_view("\0", 1));
  }
}

std::map<std::string, std::string> read_keys(Database &db, const std::string &source) {
  Statement statement(db, "SELECT key, value FROM gallery", source);
  std::map<std::string, std::string> keys;
  while (statement.step(source) == SQLITE_ROW) keys[statement.text(0)] = statement.text(1);
  return keys;
}

const std::string &required(const std::map<std::string, std::string> &keys, const char *key,
                            const std::string &source) {
  const auto found = keys.find(key);
  if (found == keys.end()) damaged(source, std::string("lacks the key \"") + key + "\"");
  return found->second;
}

int parse_count(const std::string &text, const char *key, long long limit,
                const std::string &source) {
  char *end = nullptr;
  errno = 0;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || value < 1 || value > limit)
    damaged(source, std::string("has an invalid ") + key + " \"" + text + "\"");
  return static_cast<int>(value);
}

Gallery read_database(Database &db, const std::string &source) {
  {
    Statement check(db, "PRAGMA quick_check", source);
    if (check.step(source) != SQLITE_ROW || check.text(0) != "ok")
      damaged(source, "is damaged: " + check.text(0));
  }
  const auto keys = read_keys(db, source);
  if (required(keys, "format", source) != kFormatName)
    damaged(source, "is not a siamesematch gallery (format \"" + keys.at("format") + "\")");
  if (required(keys, "embedding_type", source) != kEmbeddingType)
    damaged(source, "stores embeddings as \"" + keys.at("embedding_type") + "\", not " +
                        kEmbeddingType);
  Gallery gallery;
  gallery.fingerprint = required(keys, "model_fingerprint", source);
  if (!is_hex_digest(gallery.fingerprint))
    damaged(source, "has an invalid model fingerprint \"" + gallery.fingerprint + "\"");
  gallery.model = required(keys, "model", source);
  const int dimension =
      parse_count(required(keys, "embedding_dim", source), "embedding_dim", kMaxDimension, source);
  const int count = parse_count(required(keys, "template_count", source), "template_count",
                                std::numeric_limits<int>::max(), source);
  const std::string &expected_digest = required(keys, "content_sha256", source);

  std::vector<std::string> labels;
  std::vector<TemplateSource> sources;
  cv::Mat embeddings;
  Sha256 digest;
  Statement rows(db,
                 "SELECT label, embedding, source, source_sha256, enrolled FROM templates "
                 "ORDER BY id",
                 source);
  const std::size_t blob_size = sizeof(float) * dimension;
  while (rows.step(source) == SQLITE_ROW) {
    const int row = static_cast<int>(labels.size());
    if (row == count) damaged(source, "holds more templates than its template_count says");
    if (row == 0) embeddings.create(count, dimension, CV_32F);
    const std::string label = rows.text(0);
    const char *blob = static_cast<const char *>(sqlite3_column_blob(rows.get(), 1));
    const std::size_t size = static_cast<std::size_t>(sqlite3_column_bytes(rows.get(), 1));
    const std::string where = "template " + std::to_string(row + 1);
    if (label.empty()) damaged(source, "has an empty label in " + where);
    if (sqlite3_column_type(rows.get(), 1) != SQLITE_BLOB || size != blob_size)
      damaged(source, "has an embedding of " + std::to_string(size) + " bytes in " + where +
                          " where " + std::to_string(blob_size) + " are expected");
    std::memcpy(embeddings.ptr<float>(row), blob, blob_size);
    const cv::Mat embedding = embeddings.row(row);
    const double norm = cv::checkRange(embedding) ? cv::norm(embedding) : -1.0;
    if (norm != 0.0 && std::abs(norm - 1.0) > kUnitTolerance)
      damaged(source, "has an embedding in " + where + " that is not of unit length (" +
                          (norm < 0 ? std::string("not finite") : std::to_string(norm)) + ")");
    labels.push_back(label);
    sources.push_back({rows.text(2), rows.text(3), rows.text(4)});
    add_to_content_digest(label, std::string_view(blob, size), sources.back(), digest);
  }
  if (static_cast<int>(labels.size()) != count)
    damaged(source, "holds " + std::to_string(labels.size()) + " templates where its "
                        "template_count says " + std::to_string(count));
  if (digest.hex() != expected_digest)
    damaged(source, "is corrupted: its templates do not match its content_sha256");
  gallery.references = ReferenceSet::from_rows(labels, embeddings, std::move(sources));
  return gallery;
}

}  // namespace

std::string gallery_to_bytes(const Gallery &gallery) {
  const ReferenceSet &set = gallery.references;
  if (set.empty())
    throw Error(ErrorKind::kSettings, "A gallery needs at least one template; this one is empty.");
  if (!is_hex_digest(gallery.fingerprint))
    throw Error(ErrorKind::kSettings,
                "A gallery needs the model's fingerprint (64 hex digits), not \"" +
                    gallery.fingerprint + "\".");
  const std::string name = "(gallery being written)";
  Database db(name);
  db.execute("PRAGMA application_id = " + std::to_string(kApplicationId) +
             "; PRAGMA user_version = " + std::to_string(kFormatVersion) + ";");
  db.execute(kSchema);
  db.execute("BEGIN");
  Sha256 digest;
  const cv::Mat embeddings = set.embeddings().isContinuous() ? set.embeddings()
                                                             : set.embeddings().clone();
  const std::size_t blob_size = sizeof(float) * set.dimension();
  {
    Statement insert(db,
                     "INSERT INTO templates (id, label, embedding, source, source_sha256, "
                     "enrolled) VALUES (?, ?, ?, ?, ?, ?)",
                     name);
    for (int row = 0; row < embeddings.rows; ++row) {
      const std::string &label = set.labels()[set.template_labels()[row]];
      const TemplateSource &origin = set.sources()[row];
      const char *blob = reinterpret_cast<const char *>(embeddings.ptr<float>(row));
      sqlite3_bind_int64(insert.get(), 1, row + 1);
      insert.bind(2, label);
      sqlite3_bind_blob(insert.get(), 3, blob, static_cast<int>(blob_size), SQLITE_STATIC);
      insert.bind(4, origin.path);
      insert.bind(5, origin.sha256);
      insert.bind(6, origin.enrolled);
      insert.step(name);
      sqlite3_reset(insert.get());
      add_to_content_digest(label, std::string_view(blob, blob_size), origin, digest);
    }
  }
  {
    Statement insert(db, "INSERT INTO gallery (key, value) VALUES (?, ?)", name);
    const std::map<std::string, std::string> keys{
        {"format", kFormatName},
        {"format_version", std::to_string(kFormatVersion)},
        {"model_fingerprint", gallery.fingerprint},
        {"model", gallery.model},
        {"embedding_dim", std::to_string(set.dimension())},
        {"embedding_type", kEmbeddingType},
        {"template_count", std::to_string(embeddings.rows)},
        {"content_sha256", digest.hex()},
        {"written", utc_now()},
    };
    for (const auto &[key, value] : keys) {
      insert.bind(1, key);
      insert.bind(2, value);
      insert.step(name);
      sqlite3_reset(insert.get());
    }
  }
  db.execute("COMMIT");
  sqlite3_int64 size = 0;
  unsigned char *data = sqlite3_serialize(db.get(), "main", &size, 0);
  if (!data) throw Error(ErrorKind::kSettings, "SQLite cannot serialise the gallery (out of memory?).");
  std::string bytes(reinterpret_cast<const char *>(data), static_cast<std::size_t>(size));
  sqlite3_free(data);
  return bytes;
}

void save_gallery(const std::string &path, const Gallery &gallery) {
  const std::string bytes = gallery_to_bytes(gallery);
  try {
    write_file_atomically(path, bytes);
  } catch (const std::runtime_error &error) {
    throw Error(ErrorKind::kWrite, std::string("The gallery cannot be saved: ") + error.what() + ".");
  }
}

Gallery gallery_from_bytes(const std::string &bytes, const std::string &source) {
  check_header(bytes, source);
  Database db(source);
  // Read-only and without a copy: SQLite reads `bytes` in place.
  auto *data = reinterpret_cast<unsigned char *>(const_cast<char *>(bytes.data()));
  if (sqlite3_deserialize(db.get(), "main", data, static_cast<sqlite3_int64>(bytes.size()),
                          static_cast<sqlite3_int64>(bytes.size()),
                          SQLITE_DESERIALIZE_READONLY) != SQLITE_OK)
    damaged(source, "cannot be opened: " + db.message());
  return read_database(db, source);
}

Gallery load_gallery(const std::string &path) {
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (!std::filesystem::exists(status))
    throw Error(ErrorKind::kNotFound, "The gallery file " + path + " does not exist.");
  if (!std::filesystem::is_regular_file(status))
    throw Error(ErrorKind::kOpenRead, "The gallery path " + path + " is not a file.");
  std::ifstream file(path, std::ios::binary);
  if (!file.is_open())
    throw Error(ErrorKind::kOpenRead,
                "The gallery file " + path + " cannot be opened (check its permissions).");
  const std::string bytes{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  if (file.bad()) throw Error(ErrorKind::kOpenRead, "The gallery file " + path + " cannot be read.");
  return gallery_from_bytes(bytes, path);
}

void require_same_model(const Gallery &gallery, const std::string &gallery_path,
                        const std::string &model_fingerprint, const std::string &model_path) {
  if (gallery.fingerprint == model_fingerprint) return;
  throw Error(ErrorKind::kFormat,
              "The gallery file " + gallery_path + " was made by another model (fingerprint " +
                  gallery.fingerprint + (gallery.model.empty() ? "" : ", " + gallery.model) +
                  ") than the model " + model_path + " (fingerprint " + model_fingerprint +
                  "): embeddings of different models cannot be compared.  Rebuild the gallery "
                  "with this model (siamese-gallery build) or use the model that made it.");
}

}  // namespace siamese
