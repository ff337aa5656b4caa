// SPDX-License-Identifier: LGPL-2.1-or-later
// Gallery files: a save/load round trip gives identical sets and results;
// another model's gallery is refused naming both fingerprints; missing,
// foreign, truncated and corrupted files are clear errors; and the loader
// answers a few thousand mutated files with a gallery or an error, never
// anything else.
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include <gtest/gtest.h>

#include "atomic_file.h"
#include "digest.h"
#include "embedder.h"
#include "gallery_file.h"
#include "gallery_fuzz.h"
#include "matcher.h"
#include "thrown_kind.h"

namespace siamese {
namespace {

namespace fs = std::filesystem;

class GalleryFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = fs::path(::testing::TempDir()) /
              ("gallery-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(folder_);
    fs::create_directories(folder_);
  }
  void TearDown() override { fs::remove_all(folder_); }

  static Gallery fixture_gallery() {
    Embedder embedder = Embedder::load(SIAMESE_FIXTURE_MEAN_COLOUR_ONNX);
    return {embedder.fingerprint(), SIAMESE_FIXTURE_MEAN_COLOUR_ONNX,
            ReferenceSet::enroll_folder(SIAMESE_FIXTURE_REFERENCES_DIR, embedder)};
  }
  std::string path(const std::string &name) const { return (folder_ / name).string(); }

  static std::optional<ErrorKind> load_error(const std::string &bytes, const std::string &named) {
    return thrown_kind([&] { gallery_from_bytes(bytes, "test.gallery"); }, named);
  }

  fs::path folder_;
};

TEST_F(GalleryFileTest, RoundTripIsIdentical) {
  // Labels, embeddings (bit for bit), provenance, fingerprint and match results survive.
  const Gallery saved = fixture_gallery();
  save_gallery(path("g.gallery"), saved);
  const Gallery loaded = load_gallery(path("g.gallery"));
  EXPECT_EQ(loaded.fingerprint, saved.fingerprint);
  EXPECT_EQ(loaded.model, saved.model);
  EXPECT_EQ(loaded.references.labels(), saved.references.labels());
  EXPECT_EQ(loaded.references.template_labels(), saved.references.template_labels());
  EXPECT_EQ(loaded.references.sources(), saved.references.sources());
  EXPECT_EQ(cv::norm(loaded.references.embeddings(), saved.references.embeddings(), cv::NORM_INF), 0.0);

  cv::Mat queries(12, 3, CV_32F);
  cv::randu(queries, 0.0, 1.0);
  for (int r = 0; r < queries.rows; ++r) cv::normalize(queries.row(r), queries.row(r));
  const MatcherSettings settings{Metric::kCosine, 0.95, 4};
  EXPECT_EQ(Matcher(loaded.references, settings, {}).match(queries),
            Matcher(saved.references, settings, {}).match(queries));
}

TEST_F(GalleryFileTest, ProvenanceNamesEachImageAndItsHash) {
  // Each template names its image file, its sha256sum and when it was enrolled.
  const Gallery gallery = fixture_gallery();
  const TemplateSource &first = gallery.references.sources().front();
  EXPECT_EQ(first.path, std::string(SIAMESE_FIXTURE_REFERENCES_DIR) + "/blue/blue_0.png");
  std::ifstream file(first.path, std::ios::binary);
  EXPECT_EQ(first.sha256, sha256_hex(std::string{std::istreambuf_iterator<char>(file), {}}));
  EXPECT_EQ(first.enrolled.size(), 20u);  // 2026-11-28T10:15:00Z
  EXPECT_EQ(first.enrolled.back(), 'Z');
}

TEST_F(GalleryFileTest, AnotherModelsGalleryIsRefusedNamingBothFingerprints) {
  const Gallery gallery = fixture_gallery();
  const std::string grey = Embedder::fingerprint_of(SIAMESE_FIXTURE_GREY_ONNX);
  try {
    require_same_model(gallery, "g.gallery", grey, SIAMESE_FIXTURE_GREY_ONNX);
    FAIL() << "no error";
  } catch (const Error &error) {
    EXPECT_EQ(error.kind(), ErrorKind::kFormat);
    const std::string text = error.what();
    EXPECT_NE(text.find(gallery.fingerprint), std::string::npos) << text;
    EXPECT_NE(text.find(grey), std::string::npos) << text;
    EXPECT_NE(text.find("g.gallery"), std::string::npos) << text;
  }
  EXPECT_NO_THROW(require_same_model(gallery, "g.gallery", gallery.fingerprint, "m.onnx"));
}

TEST_F(GalleryFileTest, MissingAndUnreadablePaths) {
  EXPECT_EQ(thrown_kind([&] { load_gallery(path("none.gallery")); }, "none.gallery"),
            ErrorKind::kNotFound);
  EXPECT_EQ(thrown_kind([&] { load_gallery(folder_.string()); }, folder_.string()),
            ErrorKind::kOpenRead);
}

TEST_F(GalleryFileTest, ForeignFilesAreNotGalleries) {
  // Empty, text, an ONNX model, and an SQLite database of someone else.
  EXPECT_EQ(load_error("", "not an SQLite database"), ErrorKind::kOpenRead);
  EXPECT_EQ(load_error("label,embedding\nred,1 0 0\n", "not an SQLite database"),
            ErrorKind::kOpenRead);
  std::ifstream model(SIAMESE_FIXTURE_MEAN_COLOUR_ONNX, std::ios::binary);
  EXPECT_EQ(load_error(std::string{std::istreambuf_iterator<char>(model), {}},
                       "not an SQLite database"),
            ErrorKind::kOpenRead);

  const std::string other = path("other.db");
  sqlite3 *db = nullptr;
  ASSERT_EQ(sqlite3_open(other.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE t (x); INSERT INTO t VALUES (1);", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  EXPECT_EQ(thrown_kind([&] { load_gallery(other); }, "not a siamesematch gallery"),
            ErrorKind::kOpenRead);
}

TEST_F(GalleryFileTest, NewerFormatVersionIsRefused) {
  std::string bytes = gallery_to_bytes(fixture_gallery());
  bytes[63] = 2;  // user_version, big-endian at offset 60
  EXPECT_EQ(load_error(bytes, "version 2"), ErrorKind::kOpenRead);
}

TEST_F(GalleryFileTest, TruncatedFilesAreErrors) {
  // Cut anywhere, the file is refused (never a partial gallery).
  const std::string bytes = gallery_to_bytes(fixture_gallery());
  for (const std::size_t length : {std::size_t{0}, std::size_t{50}, std::size_t{100},
                                   bytes.size() / 2, bytes.size() - 1})
    EXPECT_EQ(load_error(bytes.substr(0, length), "test.gallery"), ErrorKind::kOpenRead) << length;
  EXPECT_EQ(load_error(bytes.substr(0, bytes.size() - 1), "truncated"), ErrorKind::kOpenRead);
}

TEST_F(GalleryFileTest, FlippedBitInAnEmbeddingIsCaught) {
  // The lowest bit of one float keeps the vector's length: the content digest catches it.
  const Gallery gallery = fixture_gallery();
  std::string bytes = gallery_to_bytes(gallery);
  const cv::Mat row = gallery.references.embeddings().row(4);
  const std::string blob(reinterpret_cast<const char *>(row.ptr<float>()), 3 * sizeof(float));
  const std::size_t at = bytes.find(blob);
  ASSERT_NE(at, std::string::npos);
  bytes[at + 4] ^= 1;
  EXPECT_EQ(load_error(bytes, "content_sha256"), ErrorKind::kOpenRead);
  // A high exponent bit makes it no unit vector.
  bytes[at + 4] ^= 1;
  bytes[at + 3] ^= 0x20;
  EXPECT_EQ(load_error(bytes, "unit length"), ErrorKind::kOpenRead);
}

TEST_F(GalleryFileTest, EmptyGalleryAndBadFingerprintAreNotWritten) {
  EXPECT_EQ(thrown_kind([] { gallery_to_bytes({std::string(64, 'a'), "", {}}); }, "empty"),
            ErrorKind::kSettings);
  EXPECT_EQ(thrown_kind([] { gallery_to_bytes({"abc", "", fixture_gallery().references}); }, "abc"),
            ErrorKind::kSettings);
}

TEST_F(GalleryFileTest, SaveIsAtomicAndReportsFailures) {
  EXPECT_EQ(thrown_kind([&] { save_gallery(path("no/such/dir/g.gallery"), fixture_gallery()); },
                        "g.gallery"),
            ErrorKind::kWrite);
}

TEST_F(GalleryFileTest, MutatedFilesGiveTheSameGalleryOrAnError) {
  // The fuzz target's function over seeded mutations of a valid file: a
  // mutation the loader accepts (one in unused bytes) never changes a label,
  // an embedding or a source.
  const Gallery original = fixture_gallery();
  const std::string bytes = gallery_to_bytes(original);
  cv::RNG rng(2026);
  int refused = 0;
  constexpr int kMutations = 3000;
  for (int i = 0; i < kMutations; ++i) {
    std::string mutated = bytes;
    const int flips = 1 + rng.uniform(0, 8);
    for (int f = 0; f < flips; ++f)
      mutated[rng.uniform(0, static_cast<int>(mutated.size()))] ^=
          static_cast<char>(1 << rng.uniform(0, 8));
    if (rng.uniform(0, 4) == 0) mutated.resize(rng.uniform(0, static_cast<int>(mutated.size())));
    const auto loaded = load_gallery_from_fuzz_input(mutated);
    if (!loaded) {
      ++refused;
      continue;
    }
    EXPECT_EQ(loaded->references.labels(), original.references.labels()) << "mutation " << i;
    EXPECT_EQ(loaded->references.sources(), original.references.sources()) << "mutation " << i;
    EXPECT_EQ(cv::norm(loaded->references.embeddings(), original.references.embeddings(),
                       cv::NORM_INF), 0.0) << "mutation " << i;
  }
  EXPECT_GT(refused, 0);
}

}  // namespace
}  // namespace siamese
