// SPDX-License-Identifier: LGPL-2.1-or-later
// Trainer datasets: IDX and image-folder readers (good and corrupt input),
// splits, and augmentation.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <sys/resource.h>
#include <zlib.h>

#include "augment.h"
#include "dataset.h"
#include "outliers.h"
#include "thrown_kind.h"

namespace siamese::trainer {
namespace {

namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "siamese-trainer-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string operator/(const std::string &name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

std::vector<uint8_t> big_endian(uint32_t value) {
  return {uint8_t(value >> 24), uint8_t(value >> 16), uint8_t(value >> 8), uint8_t(value)};
}

// An IDX file: magic, dimensions, then `payload` bytes.
std::vector<uint8_t> idx_bytes(uint32_t magic, const std::vector<uint32_t> &dims,
                               std::size_t payload) {
  std::vector<uint8_t> bytes = big_endian(magic);
  for (uint32_t dim : dims) {
    const auto encoded = big_endian(dim);
    bytes.insert(bytes.end(), encoded.begin(), encoded.end());
  }
  for (std::size_t i = 0; i < payload; ++i) bytes.push_back(static_cast<uint8_t>(i % 7));
  return bytes;
}

void write_plain(const std::string &path, const std::vector<uint8_t> &bytes) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char *>(bytes.data()), bytes.size());
}

void write_gzip(const std::string &path, const std::vector<uint8_t> &bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr);
  ASSERT_EQ(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())),
            static_cast<int>(bytes.size()));
  gzclose(file);
}

// Three 2x3 images labelled 0, 2, 1.
struct IdxPair {
  std::vector<uint8_t> images = idx_bytes(0x803, {3, 2, 3}, 18);
  std::vector<uint8_t> labels = [] {
    std::vector<uint8_t> bytes = idx_bytes(0x801, {3}, 0);
    bytes.insert(bytes.end(), {0, 2, 1});
    return bytes;
  }();
};

void expect_small_set(const ImageSet &set) {
  EXPECT_EQ(set.size(), 3u);
  EXPECT_EQ(set.channels, 1);
  EXPECT_EQ(set.height, 2);
  EXPECT_EQ(set.width, 3);
  EXPECT_EQ(set.labels, (std::vector<int>{0, 2, 1}));
  EXPECT_EQ(set.class_names, (std::vector<std::string>{"0", "1", "2"}));
  EXPECT_EQ(set.image(1)[0], 6 % 7);  // the payload counts 0..6 repeatedly
}

TEST(Idx, ReadsPlainAndGzipFiles) {
  // IDX files, plain or gzip-compressed, give the images, labels and class names of the header.
  using Writer = void (*)(const std::string &, const std::vector<uint8_t> &);
  for (const auto &[suffix, write] :
       {std::pair<std::string, Writer>{"", write_plain}, {".gz", write_gzip}}) {
    TempDir dir;
    IdxPair idx;
    write(dir / ("images" + suffix), idx.images);
    write(dir / ("labels" + suffix), idx.labels);
    expect_small_set(load_idx(dir / ("images" + suffix), dir / ("labels" + suffix)));
  }
}

TEST(Idx, RejectsMissingFile) {
  // A missing file is NotFound and named.
  TempDir dir;
  IdxPair idx;
  write_plain(dir / "labels", idx.labels);
  EXPECT_EQ(thrown_kind([&] { load_idx(dir / "nothing", dir / "labels"); }, dir / "nothing"),
            ErrorKind::kNotFound);
}

// Writes plain image and label files; the kind of error load_idx throws for
// them, whose message must contain `named`.
std::optional<ErrorKind> idx_error(const std::vector<uint8_t> &images,
                                   const std::vector<uint8_t> &labels, const std::string &named) {
  TempDir dir;
  write_plain(dir / "images", images);
  write_plain(dir / "labels", labels);
  return thrown_kind([&] { load_idx(dir / "images", dir / "labels"); }, named);
}

TEST(Idx, RejectsWrongMagic) {
  // Label file given as the image file: the magic number says so.
  const IdxPair idx;
  EXPECT_EQ(idx_error(idx.labels, idx.labels, "magic number 0x00000801"), ErrorKind::kFormat);
}

TEST(Idx, RejectsFileShorterThanHeader) {
  // Six bytes cannot hold an image header.
  const IdxPair idx;
  EXPECT_EQ(idx_error({idx.images.begin(), idx.images.begin() + 6}, idx.labels, "truncated"),
            ErrorKind::kFormat);
}

TEST(Idx, RejectsPayloadThatDisagreesWithHeader) {
  // One pixel missing or one too many: the header's 3 x 2 x 3 does not fit.
  const IdxPair idx;
  for (std::size_t payload : {17u, 19u}) {
    EXPECT_EQ(idx_error(idx_bytes(0x803, {3, 2, 3}, payload), idx.labels, "header says 3 x 2 x 3"),
              ErrorKind::kFormat);
  }
  // A header whose size overflows 64 bits is a mismatch too, not a wrap-around.
  EXPECT_EQ(idx_error(idx_bytes(0x803, {0xffffffff, 0xffffffff, 0xffffffff}, 18), idx.labels,
                      "4294967295 x"),
            ErrorKind::kFormat);
}

// `header` followed by `zeros` zero bytes, gzip-compressed (a few hundred KB
// for hundreds of MB).
void write_gzip_of_zeros(const std::string &path, const std::vector<uint8_t> &header,
                         std::size_t zeros) {
  gzFile file = gzopen(path.c_str(), "wb1");
  ASSERT_NE(file, nullptr);
  if (!header.empty()) gzwrite(file, header.data(), static_cast<unsigned>(header.size()));
  const std::vector<uint8_t> chunk(std::size_t{1} << 20, 0);
  for (std::size_t left = zeros; left > 0; left -= std::min(left, chunk.size()))
    ASSERT_GT(gzwrite(file, chunk.data(), static_cast<unsigned>(std::min(left, chunk.size()))), 0);
  gzclose(file);
}

// The process's peak resident memory so far, in MiB.
long peak_resident_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024;
}

TEST(Idx, ChecksHeaderBeforeDecompressing) {
  // 384 MiB of gzipped zeros (a wrong magic number), and a valid 1-byte
  // header followed by 384 MiB more: both refused with the process never
  // holding the decompressed data (peak memory stays far below 384 MiB).
  constexpr std::size_t kZeros = std::size_t{384} << 20;
  TempDir dir;
  const IdxPair idx;
  write_plain(dir / "labels", idx.labels);
  write_gzip_of_zeros(dir / "zeros.gz", {}, kZeros);
  EXPECT_EQ(thrown_kind([&] { load_idx(dir / "zeros.gz", dir / "labels"); },
                        "magic number 0x00000000"),
            ErrorKind::kFormat);
  write_gzip_of_zeros(dir / "long.gz", idx_bytes(0x803, {1, 1, 1}, 0), kZeros);
  EXPECT_EQ(thrown_kind([&] { load_idx(dir / "long.gz", dir / "labels"); },
                        "header says 1 x 1 x 1"),
            ErrorKind::kFormat);
  EXPECT_LT(peak_resident_mib(), 192);
}

TEST(Idx, RefusesDeclaredSizesOverTheLimit) {
  // A header declaring 60000 x 4096 x 4096 pixels (over 1 GiB) is refused
  // from the header alone.
  const IdxPair idx;
  EXPECT_EQ(idx_error(idx_bytes(0x803, {60000, 4096, 4096}, 10), idx.labels,
                      "more than the 1024 MiB"),
            ErrorKind::kFormat);
}

TEST(Idx, RejectsLabelCountMismatch) {
  // Three images but two labels.
  const IdxPair idx;
  std::vector<uint8_t> labels = idx_bytes(0x801, {2}, 0);
  labels.insert(labels.end(), {0, 1});
  EXPECT_EQ(idx_error(idx.images, labels, "holds 3 images but"), ErrorKind::kFormat);
}

TEST(Idx, RejectsTruncatedGzip) {
  // A gzip stream cut short is reported as unreadable, naming the file.
  TempDir dir;
  IdxPair idx;
  write_gzip(dir / "full.gz", idx_bytes(0x803, {3, 200, 300}, 180000));
  std::ifstream full(dir / "full.gz", std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(full)), {});
  write_plain(dir / "cut.gz", {bytes.begin(), bytes.begin() + bytes.size() / 2});
  write_plain(dir / "labels", idx.labels);
  EXPECT_EQ(thrown_kind([&] { load_idx(dir / "cut.gz", dir / "labels"); }, dir / "cut.gz"),
            ErrorKind::kOpenRead);
}

TEST(ImageFolder, ReadsClassesResizedInColour) {
  // Fixture folder: 4 colour classes of 2-3 solid images, resized to 5x4, stored RGB.
  const ImageSet set = load_image_folder(SIAMESE_FIXTURE_REFERENCES_DIR, 5, 4, 3);
  EXPECT_EQ(set.class_names, (std::vector<std::string>{"blue", "green", "red", "yellow"}));
  EXPECT_EQ(set.labels, (std::vector<int>{0, 0, 1, 1, 2, 2, 2, 3, 3}));
  EXPECT_EQ(set.image_bytes(), 3u * 4 * 5);
  // red_0.png is pure red: R plane 255, G and B planes 0; to_mat gives BGR.
  const uint8_t *red = set.image(4);
  EXPECT_EQ(red[0], 255);
  EXPECT_EQ(red[20], 0);
  EXPECT_EQ(red[40], 0);
  EXPECT_EQ(set.to_mat(4).at<cv::Vec3b>(0, 0), cv::Vec3b(0, 0, 255));
}

TEST(ImageFolder, ReadsGrey) {
  // channels = 1 converts colour files to one grey plane.
  const ImageSet set = load_image_folder(SIAMESE_FIXTURE_REFERENCES_DIR, 6, 6, 1);
  EXPECT_EQ(set.channels, 1);
  EXPECT_EQ(set.pixels.size(), 9u * 36);
  EXPECT_EQ(set.to_mat(0).type(), CV_8UC1);
}

TEST(ImageFolder, NamesUndecodableImage) {
  // red/corrupt.png does not decode: the error names it.
  EXPECT_EQ(
      thrown_kind([] { load_image_folder(SIAMESE_FIXTURE_REFERENCES_WITH_CORRUPT_DIR, 8, 8, 3); },
                  "corrupt.png"),
      ErrorKind::kOpenRead);
}

void write_solid_png(const std::string &path, uint8_t value) {
  ASSERT_TRUE(cv::imwrite(path, cv::Mat(10, 12, CV_8UC3, cv::Scalar::all(value))));
}

TEST(ImageFolder, NamesLoopingLink) {
  // A looping symbolic link among the images is an error naming it and the
  // cause, not a bare filesystem exception.
  TempDir dir;
  fs::create_directories(dir / "cats");
  write_solid_png(dir / "cats/a.png", 10);
  fs::create_symlink("loop.png", dir / "cats/loop.png");
  EXPECT_EQ(thrown_kind([&] { load_image_folder(dir / "", 8, 8, 3); },
                        "cats/loop.png cannot be read: Too many levels of symbolic links"),
            ErrorKind::kOpenRead);
}

TEST(ImageFolder, RejectsClassWithOneImage) {
  // A class with a single image cannot give a positive pair.
  TempDir dir;
  fs::create_directories(dir / "cats");
  fs::create_directories(dir / "dogs");
  write_solid_png(dir / "cats/a.png", 10);
  write_solid_png(dir / "cats/b.PNG", 20);
  write_solid_png(dir / "dogs/a.png", 30);
  EXPECT_EQ(
      thrown_kind([&] { load_image_folder(dir / "", 8, 8, 3); }, "class 'dogs' has only one image"),
      ErrorKind::kFormat);
}

TEST(ImageFolder, RejectsSingleClass) {
  // One class gives no negative pair.
  TempDir dir;
  fs::create_directories(dir / "cats");
  write_solid_png(dir / "cats/a.png", 10);
  write_solid_png(dir / "cats/b.jpg", 20);
  EXPECT_EQ(thrown_kind([&] { load_image_folder(dir / "", 8, 8, 3); }, "at least two"),
            ErrorKind::kFormat);
}

TEST(ImageFolder, RejectsEmptyAndMissingRoots) {
  // No class folder at all, and no folder at all.
  EXPECT_EQ(thrown_kind([] { load_image_folder(SIAMESE_FIXTURE_REFERENCES_EMPTY_DIR, 8, 8, 3); },
                        "at least two"),
            ErrorKind::kFormat);
  EXPECT_EQ(
      thrown_kind([] { load_image_folder("/nonexistent/folder", 8, 8, 3); }, "/nonexistent/folder"),
      ErrorKind::kNotFound);
}

// 5 classes of 10 + 3 * label images each (labels interleaved), 1x1 pixels
// holding the index.
ImageSet labelled_set() {
  ImageSet set;
  set.height = set.width = 1;
  for (int label = 0; label < 5; ++label)
    set.class_names.push_back("class " + std::to_string(label));
  for (int round = 0; round < 22; ++round) {
    for (int label = 0; label < 5; ++label) {
      if (round < 10 + 3 * label)
        set.append(cv::Mat(1, 1, CV_8UC1, cv::Scalar(set.size() % 256)), label);
    }
  }
  return set;
}

std::size_t count_label(const ImageSet &set, int label) {
  return static_cast<std::size_t>(std::count(set.labels.begin(), set.labels.end(), label));
}

TEST(Splits, ValidationSplitIsStratifiedAndDeterministic) {
  // Every class gives 20% of its images; the same seed gives the same split.
  const ImageSet set = labelled_set();
  const TrainValidationSplit split = split_train_validation(set, 0.2, 7);
  EXPECT_EQ(split.train.size() + split.validation.size(), set.size());
  for (int label = 0; label < 5; ++label) {
    EXPECT_EQ(count_label(split.validation, label),
              static_cast<std::size_t>(std::lround(0.2 * (10 + 3 * label))));
  }
  EXPECT_EQ(split_train_validation(set, 0.2, 7).validation.pixels, split.validation.pixels);
  EXPECT_NE(split_train_validation(set, 0.2, 8).validation.pixels, split.validation.pixels);
  EXPECT_EQ(split.validation.class_names, set.class_names);
}

TEST(Splits, RejectsBadValidationFraction) {
  // A fraction of 1 leaves nothing to train on.
  EXPECT_EQ(
      thrown_kind([] { split_train_validation(labelled_set(), 1.0, 0); }, "Validation fraction"),
      ErrorKind::kSettings);
}

TEST(Splits, HoldoutSeparatesWholeClasses) {
  // Held-out classes leave the seen set entirely and keep their labels.
  const ImageSet set = labelled_set();
  const HoldoutSplit split = split_holdout_classes(set, {1, 3});
  EXPECT_EQ(split.held_out.size(), count_label(set, 1) + count_label(set, 3));
  EXPECT_EQ(split.seen.size() + split.held_out.size(), set.size());
  for (int label : split.seen.labels) EXPECT_TRUE(label == 0 || label == 2 || label == 4);
  for (int label : split.held_out.labels) EXPECT_TRUE(label == 1 || label == 3);
  EXPECT_EQ(thrown_kind([&] { split_holdout_classes(set, {5}); }, "Held-out class 5"),
            ErrorKind::kSettings);
}

TEST(Splits, LimitPerClass) {
  // At most 12 of each class, chosen by the seed, kept in their original order.
  const ImageSet set = labelled_set();
  const ImageSet limited = limit_per_class(set, 12, 3);
  for (int label = 0; label < 5; ++label) {
    EXPECT_EQ(count_label(limited, label), std::min<std::size_t>(12, count_label(set, label)));
  }
  EXPECT_TRUE(std::is_sorted(limited.pixels.begin(), limited.pixels.end()));
  EXPECT_EQ(limit_per_class(set, 12, 3).pixels, limited.pixels);
}

TEST(Splits, CheckTrainableIgnoresEmptyClasses) {
  // After a holdout split the seen set has classes without images: still trainable.
  EXPECT_NO_THROW(check_trainable(split_holdout_classes(labelled_set(), {1, 3}).seen, "seen"));
  EXPECT_EQ(thrown_kind(
                [] {
                  check_trainable(split_holdout_classes(labelled_set(), {0, 1, 2, 3}).seen, "seen");
                },
                "seen has 1 class"),
            ErrorKind::kFormat);
}

// Each turned copy holds the turned pixels under its own class; in a set of
// two classes, class c upside down is c + 2 and on its side (either way) c + 4.
TEST(Splits, TurnedClassesAddUpsideDownAndSidewaysCopies) {
  ImageSet set;
  set.height = set.width = 2;
  set.class_names = {"shoe", "bag"};
  const uint8_t pixels[] = {1, 2, 3, 4};  // row-major: top 1 2, bottom 3 4
  set.append(cv::Mat(2, 2, CV_8UC1, const_cast<uint8_t *>(pixels)), 1);
  const ImageSet turned = with_turned_classes(set);
  EXPECT_EQ(turned.labels, (std::vector<int>{1, 3, 5, 5}));
  EXPECT_EQ(turned.class_names, (std::vector<std::string>{"shoe", "bag", "shoe upside down",
                                                          "bag upside down", "shoe on its side",
                                                          "bag on its side"}));
  const std::vector<uint8_t> expected = {1, 2, 3, 4,   // as it was
                                         4, 3, 2, 1,   // 180 degrees
                                         3, 1, 4, 2,   // 90 degrees clockwise
                                         2, 4, 1, 3};  // 90 degrees counter-clockwise
  EXPECT_EQ(turned.pixels, expected);

  ImageSet wide;
  wide.height = 2;
  wide.width = 3;
  EXPECT_EQ(thrown_kind([&] { with_turned_classes(wide); }, "3 x 2"), ErrorKind::kSettings);
}

// Tilts add two more groups after the right angles: class c tilted is
// c + 3 * classes, tilted upside down c + 4 * classes.  A tilted copy keeps
// the whole item in the frame (shrunk by 1 / sqrt(2)).
TEST(Splits, TiltedClassesFollowTheRightAngles) {
  ImageSet set;
  set.height = set.width = 29;
  set.class_names = {"shoe", "bag"};
  cv::Mat item = cv::Mat::zeros(29, 29, CV_8UC1);
  cv::rectangle(item, cv::Rect(0, 0, 29, 10), cv::Scalar(255), cv::FILLED);  // a bar on top
  set.append(item, 0);
  const ImageSet turned = with_turned_classes(set, {true, true});
  EXPECT_EQ(turned.labels, (std::vector<int>{0, 2, 4, 4, 6, 8}));
  EXPECT_EQ(turned.class_names,
            (std::vector<std::string>{"shoe", "bag", "shoe upside down", "bag upside down",
                                      "shoe on its side", "bag on its side", "shoe tilted",
                                      "bag tilted", "shoe tilted upside down",
                                      "bag tilted upside down"}));
  const cv::Mat tilted = turned.to_mat(4), tilted_over = turned.to_mat(5);
  // Nothing of the bar is cut off: its ink is the original's times 1/2 (the
  // area shrinks by 1 / sqrt(2) squared), to within edge blur.
  EXPECT_NEAR(cv::sum(tilted)[0], cv::sum(item)[0] / 2, cv::sum(item)[0] * 0.05);
  // Counterclockwise: the bar's ink moves from the top to the top-left corner.
  EXPECT_GT(tilted.at<uint8_t>(8, 8), 200);
  EXPECT_EQ(tilted.at<uint8_t>(8, 20), 0);
  EXPECT_EQ(tilted.at<uint8_t>(20, 8), 0);
  // Turned by 135 degrees, the ink sits in the bottom-left corner.
  EXPECT_GT(tilted_over.at<uint8_t>(20, 8), 200);
  EXPECT_EQ(tilted_over.at<uint8_t>(8, 8), 0);

  const ImageSet tilts_only = with_turned_classes(set, {false, true});
  EXPECT_EQ(tilts_only.labels, (std::vector<int>{0, 2, 4}));
  EXPECT_EQ(tilts_only.class_names[2], "shoe tilted");
  EXPECT_EQ(tilts_only.to_mat(1).at<uint8_t>(8, 8), tilted.at<uint8_t>(8, 8));
}

// Outliers come in turns of seven kinds, of the source's size and channels,
// reproducible by seed; none is a flat frame (the evaluation's flat grey
// impostors must stay a kind training never saw), and the inverted kind is a
// source image with its grey levels turned over.
TEST(Outliers, GeneratedKindsAreReproducibleAndNotFlat) {
  ImageSet source;
  source.height = source.width = 28;
  source.class_names = {"item"};
  cv::Mat item = cv::Mat::zeros(28, 28, CV_8UC1);
  cv::rectangle(item, cv::Rect(8, 4, 12, 20), cv::Scalar(200), cv::FILLED);
  source.append(item, 0);
  const ImageSet a = generate_outliers(source, 21, 4, 9);
  const ImageSet b = generate_outliers(source, 21, 4, 9);
  const ImageSet c = generate_outliers(source, 21, 4, 10);
  ASSERT_EQ(a.size(), 21u);
  EXPECT_EQ(a.width, 28);
  EXPECT_EQ(a.channels, 1);
  EXPECT_EQ(a.pixels, b.pixels);
  EXPECT_NE(a.pixels, c.pixels);
  EXPECT_EQ(a.labels, std::vector<int>(21, 4));
  ASSERT_EQ(a.class_names.size(), 5u);
  EXPECT_EQ(a.class_names[4], kOutlierClass);
  for (std::size_t i = 0; i < a.size(); ++i) {
    double low, high;
    cv::minMaxLoc(a.to_mat(i), &low, &high);
    // A ramp between two close grey levels is nearly flat; every other kind
    // has a clear contrast.
    if (i % 7 != 4) {
      EXPECT_GT(high - low, 30.0) << "outlier " << i;
    }
  }
  // Kinds in turn: the seventh of each turn (index 6) is the inverted item.
  EXPECT_EQ(cv::countNonZero(a.to_mat(6) != (cv::Scalar::all(255) - item)), 0);

  ImageSet colour = source;
  colour.channels = 3;
  colour.pixels.clear();
  colour.labels.clear();
  cv::Mat bgr;
  cv::cvtColor(item, bgr, cv::COLOR_GRAY2BGR);
  colour.append(bgr, 0);
  EXPECT_EQ(generate_outliers(colour, 7, 1, 1).channels, 3);

  EXPECT_EQ(thrown_kind([] { generate_outliers(ImageSet{}, 3, 0, 1); }, "none"),
            ErrorKind::kSettings);
  ImageSet tiny = source;
  tiny.width = tiny.height = 4;
  EXPECT_EQ(thrown_kind([&] { generate_outliers(tiny, 3, 0, 1); }, "4 x 4"), ErrorKind::kSettings);
}

// The outliers join a set as one new class after its own classes.
TEST(Outliers, JoinTheSetAsOneNewClass) {
  ImageSet set;
  set.height = set.width = 8;
  set.class_names = {"a", "b", "c"};
  set.append(cv::Mat(8, 8, CV_8UC1, cv::Scalar(10)), 0);
  set.append(cv::Mat(8, 8, CV_8UC1, cv::Scalar(90)), 2);
  const ImageSet with = with_outlier_class(set, 5, 1);
  ASSERT_EQ(with.size(), 7u);
  EXPECT_EQ(with.labels, (std::vector<int>{0, 2, 3, 3, 3, 3, 3}));
  EXPECT_EQ(with.class_names, (std::vector<std::string>{"a", "b", "c", kOutlierClass}));
  EXPECT_TRUE(std::equal(set.pixels.begin(), set.pixels.end(), with.pixels.begin()));
  EXPECT_EQ(with_outlier_class(set, 0, 1).pixels, set.pixels);
}

// One class per kind: the kinds in turn take the labels after the set's
// classes, each named after its kind; the images are those of one class.
TEST(Outliers, OneClassPerKind) {
  ImageSet set;
  set.height = set.width = 8;
  set.class_names = {"a", "b"};
  set.append(cv::Mat(8, 8, CV_8UC1, cv::Scalar(10)), 0);
  set.append(cv::Mat(8, 8, CV_8UC1, cv::Scalar(90)), 1);
  const std::size_t count = 2 * outlier_kinds() + 1;
  const ImageSet with = with_outlier_class(set, count, 1, OutlierClasses::kPerKind);
  ASSERT_EQ(with.size(), 2 + count);
  ASSERT_EQ(with.class_names.size(), 2u + outlier_kinds());
  EXPECT_EQ(with.class_names[2], std::string(kOutlierClass) + ": shapes");
  EXPECT_EQ(with.class_names.back(), std::string(kOutlierClass) + ": inverted");
  for (std::size_t i = 0; i < count; ++i)
    EXPECT_EQ(with.labels[2 + i], 2 + static_cast<int>(i) % outlier_kinds()) << "outlier " << i;
  EXPECT_EQ(with.pixels, with_outlier_class(set, count, 1).pixels);
}

// One 3-channel 4x5 image whose pixel values encode (channel, y, x).
ImageSet gradient_image() {
  ImageSet set;
  set.channels = 3;
  set.height = 4;
  set.width = 5;
  for (int i = 0; i < 60; ++i) set.pixels.push_back(static_cast<uint8_t>(i + 1));
  set.labels = {0};
  return set;
}

// gradient_image() moved by (dx, dy) after an optional mirror, 0 where
// nothing is shifted in: what augment_image must produce.
std::vector<uint8_t> moved_gradient(int dx, int dy, bool flip) {
  std::vector<uint8_t> expected;
  for (int c = 0; c < 3; ++c) {
    for (int y = 0; y < 4; ++y) {
      for (int x = 0; x < 5; ++x) {
        const int sy = y - dy, sx = x - dx;
        const bool inside = sy >= 0 && sy < 4 && sx >= 0 && sx < 5;
        expected.push_back(inside ? 1 + c * 20 + sy * 5 + (flip ? 4 - sx : sx) : 0);
      }
    }
  }
  return expected;
}

TEST(Augment, ShiftFlipAndZeroPadding) {
  // Every output is the image shifted by at most max_shift, mirrored or not,
  // zero-padded; both shifts and flips occur; the same generator state
  // repeats the result.
  const ImageSet set = gradient_image();
  const AugmentOptions options{true, 2, true};
  std::mt19937_64 rng(1), replay(1);
  bool saw_flip = false, saw_shift = false;
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<uint8_t> out(60), again(60);
    augment_image(set, 0, options, rng, out.data());
    augment_image(set, 0, options, replay, again.data());
    EXPECT_EQ(out, again);
    bool explained = false;
    for (int flip = 0; flip < 2; ++flip) {
      for (int dy = -2; dy <= 2; ++dy) {
        for (int dx = -2; dx <= 2; ++dx) {
          if (explained || out != moved_gradient(dx, dy, flip)) continue;
          explained = true;
          saw_flip = saw_flip || flip;
          saw_shift = saw_shift || dx != 0 || dy != 0;
        }
      }
    }
    EXPECT_TRUE(explained) << "trial " << trial;
  }
  EXPECT_TRUE(saw_flip);
  EXPECT_TRUE(saw_shift);
}

// One 28 x 28 image: an upright bar of 200 on 0.
ImageSet upright_bar() {
  ImageSet set;
  set.channels = 1;
  set.height = set.width = 28;
  set.pixels.assign(28 * 28, 0);
  for (int y = 8; y < 20; ++y)
    for (int x = 10; x < 18; ++x) set.pixels[y * 28 + x] = 200;
  set.labels = {0};
  return set;
}

// A zoom or rotation is a bilinear warp: repeatable, changing the image in
// general, and the identity when it draws no change (tiny ranges round to it).
TEST(Augment, ZoomAndRotationWarpRepeatably) {
  const ImageSet set = upright_bar();
  AugmentOptions options{true, 0, false};
  options.max_scale = 0.2;
  options.max_rotation = 20.0;
  std::mt19937_64 rng(3), replay(3);
  int changed = 0;
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<uint8_t> out(28 * 28), again(28 * 28);
    augment_image(set, 0, options, rng, out.data());
    augment_image(set, 0, options, replay, again.data());
    EXPECT_EQ(out, again);
    EXPECT_EQ(out[0], 0);  // corners stay background: nothing is wrapped around
    changed += out != set.pixels;
  }
  EXPECT_GE(changed, 18);

  options.max_scale = 1e-9;
  options.max_rotation = 1e-9;
  std::vector<uint8_t> out(28 * 28);
  augment_image(set, 0, options, rng, out.data());
  EXPECT_EQ(out, set.pixels);

  options.max_scale = 1.0;
  EXPECT_THROW(augment_image(set, 0, options, rng, out.data()), Error);
}

// to_frame() enlarges an image to a square frame: its own size is the image
// itself, a larger one keeps the type, the bar's brightness and its place.
TEST(ImageSet, ToFrameEnlargesToASquareFrame) {
  const ImageSet set = upright_bar();
  EXPECT_EQ(cv::norm(set.to_frame(0, 28), set.to_mat(0), cv::NORM_INF), 0.0);
  const cv::Mat frame = set.to_frame(0, 224);
  EXPECT_EQ(frame.type(), CV_8UC1);
  EXPECT_EQ(frame.size(), cv::Size(224, 224));
  EXPECT_EQ(frame.at<uint8_t>(14 * 8, 14 * 8), 200);  // inside the bar
  EXPECT_EQ(frame.at<uint8_t>(2 * 8, 2 * 8), 0);      // far outside it
  EXPECT_NEAR(cv::mean(frame)[0], cv::mean(set.to_mat(0))[0], 1.0);
}

// Softening takes the frame path (bicubic enlargement, area shrink back):
// repeatable, blurring a hard edge into in-between values while keeping the
// image's brightness, drawn with the probability asked for; out of range, an
// error.
TEST(Augment, SoftenTakesTheFramePath) {
  const ImageSet set = upright_bar();
  const auto total = [](const std::vector<uint8_t> &image) {
    return std::accumulate(image.begin(), image.end(), 0.0);
  };
  AugmentOptions options{true, 0, false};
  options.soften = 1.0;
  std::mt19937_64 rng(7), replay(7);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<uint8_t> out(28 * 28), again(28 * 28);
    augment_image(set, 0, options, rng, out.data());
    augment_image(set, 0, options, replay, again.data());
    EXPECT_EQ(out, again);
    const int in_between = static_cast<int>(
        std::count_if(out.begin(), out.end(), [](uint8_t v) { return v > 20 && v < 180; }));
    EXPECT_GE(in_between, 20) << "trial " << trial;  // the bar's 40 edge pixels, softened
    EXPECT_NEAR(total(out), total(set.pixels), 0.03 * total(set.pixels));
  }

  options.soften = 0.5;
  int softened = 0;
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<uint8_t> out(28 * 28);
    augment_image(set, 0, options, rng, out.data());
    softened += out != set.pixels;
  }
  EXPECT_GT(softened, 70);
  EXPECT_LT(softened, 130);

  options.soften = 1.5;
  std::vector<uint8_t> out(28 * 28);
  EXPECT_THROW(augment_image(set, 0, options, rng, out.data()), Error);
}

TEST(Augment, DisabledIsAPlainCopy) {
  // enabled = false copies the image and leaves the generator alone.
  const ImageSet set = gradient_image();
  std::mt19937_64 rng(5);
  const std::mt19937_64 before = rng;
  std::vector<uint8_t> out(60);
  augment_image(set, 0, AugmentOptions{false, 2, true}, rng, out.data());
  EXPECT_EQ(out, set.pixels);
  EXPECT_EQ(rng, before);
}

}  // namespace
}  // namespace siamese::trainer
