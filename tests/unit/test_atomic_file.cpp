// SPDX-License-Identifier: LGPL-2.1-or-later
// write_file_atomically: writes, replaces, and leaves the target untouched
// (and no temporary behind) when it fails.
#include <filesystem>
#include <fstream>
#include <iterator>

#include <gtest/gtest.h>

#include "atomic_file.h"

namespace siamese {
namespace {

namespace fs = std::filesystem;

class AtomicFile : public testing::Test {
 protected:
  void SetUp() override {
    folder_ = fs::path(testing::TempDir()) /
              ("siamese-atomic-" + std::string(testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(folder_);
    fs::create_directories(folder_);
  }
  void TearDown() override { fs::remove_all(folder_); }

  static std::string contents(const fs::path &path) {
    std::ifstream file(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  }
  std::size_t entries() const {
    return static_cast<std::size_t>(std::distance(fs::directory_iterator(folder_), fs::directory_iterator()));
  }

  fs::path folder_;
};

TEST_F(AtomicFile, WritesAndReplaces) {
  // A new file gets the bytes (binary-safe); a second write replaces them.
  const fs::path target = folder_ / "model.onnx";
  const std::string binary("a\0b\nc", 5);
  write_file_atomically(target.string(), binary);
  EXPECT_EQ(contents(target), binary);
  write_file_atomically(target.string(), "second");
  EXPECT_EQ(contents(target), "second");
  EXPECT_EQ(entries(), 1u);  // no temporary left beside it
}

TEST_F(AtomicFile, FailedRenameLeavesTargetAndNoTemporary) {
  // The target is a non-empty folder, so the final rename fails: the folder
  // and its content stay, the error names the path, no temporary remains.
  const fs::path target = folder_ / "occupied";
  fs::create_directories(target);
  std::ofstream(target / "keep.txt") << "keep";
  try {
    write_file_atomically(target.string(), "new");
    FAIL() << "wrote over a folder";
  } catch (const std::runtime_error &error) {
    EXPECT_NE(std::string(error.what()).find(target.string()), std::string::npos) << error.what();
  }
  EXPECT_TRUE(fs::is_directory(target));
  EXPECT_EQ(contents(target / "keep.txt"), "keep");
  EXPECT_EQ(entries(), 1u);
}

TEST_F(AtomicFile, MissingFolderCreatesNothing) {
  // A target in a folder that does not exist fails before writing anything.
  const fs::path target = folder_ / "absent" / "model.onnx";
  EXPECT_THROW(write_file_atomically(target.string(), "x"), std::runtime_error);
  EXPECT_EQ(entries(), 0u);
}

}  // namespace
}  // namespace siamese
