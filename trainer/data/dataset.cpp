// SPDX-License-Identifier: LGPL-2.1-or-later
#include "dataset.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <random>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <zlib.h>

#include "embedder.h"
#include "errors.h"

namespace siamese::trainer {
namespace {

namespace fs = std::filesystem;

// IDX magic numbers: two zero bytes, the element type (0x08: unsigned byte)
// and the number of dimensions.
constexpr uint32_t kIdxImagesMagic = 0x00000803;
constexpr uint32_t kIdxLabelsMagic = 0x00000801;

// The largest IDX payload accepted (docs/limits.md): Fashion-MNIST's
// training images are 47 MB; a header claiming more than this is refused
// before anything is decompressed.
constexpr std::size_t kMaxIdxPayloadBytes = std::size_t{1} << 30;

constexpr std::size_t kMaxSize = std::numeric_limits<std::size_t>::max();

// a * b, saturating at kMaxSize: a corrupt header may claim more than any file holds.
std::size_t saturating_multiply(std::size_t a, std::size_t b) {
  return b != 0 && a > kMaxSize / b ? kMaxSize : a * b;
}

uint32_t read_big_endian(const uint8_t *bytes) {
  return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) |
         uint32_t{bytes[3]};
}

// A gzip or plain file read through zlib (gzread reads both), a piece at a
// time, so the header can be checked before the payload is decompressed.
class GzipReader {
 public:
  explicit GzipReader(const std::string &path) : path_(path) {
    if (!fs::exists(path)) throw Error(ErrorKind::kNotFound, "Data file " + path + " does not exist.");
    std::error_code error;
    if (!fs::is_regular_file(path, error))
      throw Error(ErrorKind::kOpenRead, "Data file " + path + " is not a regular file.");
    file_ = gzopen(path.c_str(), "rb");
    if (file_ == nullptr) throw Error(ErrorKind::kOpenRead, "Cannot open data file " + path + ".");
  }
  ~GzipReader() { gzclose(file_); }
  GzipReader(const GzipReader &) = delete;
  GzipReader &operator=(const GzipReader &) = delete;

  // Reads up to `count` bytes into `out`; returns how many (fewer at the end).
  std::size_t read(uint8_t *out, std::size_t count) {
    constexpr std::size_t kChunk = 1 << 20;
    std::size_t done = 0;
    while (done < count) {
      const auto want = static_cast<unsigned>(std::min(kChunk, count - done));
      const int got = gzread(file_, out + done, want);
      // A truncated gzip stream ends reads early with Z_BUF_ERROR, not with -1.
      int code = Z_OK;
      const std::string problem = gzerror(file_, &code);
      if (got < 0 || code != Z_OK)
        throw Error(ErrorKind::kOpenRead,
                    "Cannot read data file " + path_ + ": " + problem + " (truncated or corrupt?).");
      if (got == 0) break;
      done += static_cast<std::size_t>(got);
    }
    return done;
  }

 private:
  std::string path_;
  gzFile file_ = nullptr;
};

// An IDX file's dimensions and payload, checked against its header: the
// magic number first, then the declared size against kMaxIdxPayloadBytes,
// then the payload, decompressed no further than the header says (plus one
// byte, to notice a file longer than declared).
struct IdxContents {
  std::vector<uint32_t> dims;
  std::vector<uint8_t> payload;
};

IdxContents read_idx(const std::string &path, uint32_t magic, const char *kind) {
  GzipReader reader(path);
  const std::size_t ndims = magic & 0xff;
  const std::size_t header_bytes = 4 + 4 * ndims;
  std::vector<uint8_t> header(header_bytes);
  const std::size_t header_read = reader.read(header.data(), header.size());
  const auto truncated = [&] {
    return Error(ErrorKind::kFormat, "IDX " + std::string(kind) + " file " + path +
                                         " is truncated: " + std::to_string(header_read) +
                                         " bytes, shorter than its header.");
  };
  if (header_read < 4) throw truncated();
  const uint32_t found = read_big_endian(header.data());
  if (found != magic) {
    char text[96];
    std::snprintf(text, sizeof text, "has magic number 0x%08x, expected 0x%08x", found, magic);
    throw Error(ErrorKind::kFormat,
                "IDX " + std::string(kind) + " file " + path + " " + text + ".");
  }
  if (header_read < header_bytes) throw truncated();
  IdxContents idx;
  std::size_t declared = 1;
  std::string shape;
  for (std::size_t d = 0; d < ndims; ++d) {
    idx.dims.push_back(read_big_endian(header.data() + 4 + 4 * d));
    declared = saturating_multiply(declared, idx.dims.back());
    shape += (shape.empty() ? "" : " x ") + std::to_string(idx.dims.back());
  }
  const std::string says = "IDX " + std::string(kind) + " file " + path + " header says " + shape;
  if (declared > kMaxIdxPayloadBytes)
    throw Error(ErrorKind::kFormat, says + ", more than the " +
                                        std::to_string(kMaxIdxPayloadBytes >> 20) +
                                        " MiB of data accepted.");
  // Grown as data arrives, so a header that overstates a short file costs
  // only what the file holds.
  constexpr std::size_t kPiece = std::size_t{16} << 20;
  std::size_t got = 0;
  for (;;) {
    const std::size_t want = std::min(kPiece, declared + 1 - got);
    idx.payload.resize(got + want);
    const std::size_t read = reader.read(idx.payload.data() + got, want);
    got += read;
    if (read < want || got > declared) break;
  }
  idx.payload.resize(got);
  if (got != declared)
    throw Error(ErrorKind::kFormat,
                says + " (" + std::to_string(header_bytes + declared) + " bytes) but the file has " +
                    (got > declared ? "more" : std::to_string(header_bytes + got)) + " bytes.");
  return idx;
}

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

bool is_image_file(const fs::path &path) {
  static const std::vector<std::string> kExtensions{".png", ".jpg", ".jpeg", ".bmp"};
  const std::string extension = lowercase(path.extension().string());
  return std::find(kExtensions.begin(), kExtensions.end(), extension) != kExtensions.end();
}

// The class folders (want_directories) or image files of `directory`,
// sorted.  Training data must be whole, so an entry that cannot be examined
// (a looping or dangling link, no permission) is an error naming it.
std::vector<fs::path> sorted_entries(const fs::path &directory, bool want_directories) {
  std::vector<fs::path> entries;
  std::error_code error;
  fs::directory_iterator iterator(directory, error);
  for (; !error && iterator != fs::directory_iterator(); iterator.increment(error)) {
    const fs::directory_entry &entry = *iterator;
    const fs::file_status status = entry.status(error);
    if (error) {
      throw Error(ErrorKind::kOpenRead, "Image folder entry " + entry.path().string() +
                                            " cannot be read: " + error.message() + ".");
    }
    if (want_directories ? fs::is_directory(status)
                         : (fs::is_regular_file(status) && is_image_file(entry.path()))) {
      entries.push_back(entry.path());
    }
  }
  if (error) {
    throw Error(ErrorKind::kOpenRead,
                "Image folder " + directory.string() + " cannot be read: " + error.message() + ".");
  }
  std::sort(entries.begin(), entries.end());
  return entries;
}

cv::Mat read_and_resize(const fs::path &path, int width, int height, int channels) {
  cv::Mat image;
  try {
    image = cv::imread(path.string(), channels == 1 ? cv::IMREAD_GRAYSCALE : cv::IMREAD_COLOR);
  } catch (const cv::Exception &e) {
    throw Error(ErrorKind::kOpenRead, "Image " + path.string() + " cannot be decoded: " + e.what());
  }
  if (image.empty()) {
    throw Error(ErrorKind::kOpenRead,
                "Image " + path.string() + " cannot be decoded (corrupt or not an image).");
  }
  if (image.cols == width && image.rows == height) return image;
  // The element's own resize rule, so training sees what inference will see.
  cv::Mat resized;
  resize_to_input(image, resized, cv::Size(width, height));
  return resized;
}

// The indices of each label, in ascending order of label and index.
std::map<int, std::vector<std::size_t>> indices_by_class(const ImageSet &set) {
  std::map<int, std::vector<std::size_t>> by_class;
  for (std::size_t i = 0; i < set.size(); ++i) by_class[set.labels[i]].push_back(i);
  return by_class;
}

// The image turned counterclockwise by `degrees`: exactly, for right angles;
// otherwise shrunk so that its corners stay in the frame (by 1 / sqrt(2) at
// 45 degrees), the uncovered corners black like Fashion-MNIST's background.
cv::Mat turned_by(const cv::Mat &image, int degrees) {
  cv::Mat out;
  switch (degrees) {
    case 90: cv::rotate(image, out, cv::ROTATE_90_COUNTERCLOCKWISE); return out;
    case 180: cv::rotate(image, out, cv::ROTATE_180); return out;
    case 270: cv::rotate(image, out, cv::ROTATE_90_CLOCKWISE); return out;
    default: break;
  }
  const double radians = degrees * CV_PI / 180.0;
  const double fit = 1.0 / (std::abs(std::cos(radians)) + std::abs(std::sin(radians)));
  const cv::Point2f centre((image.cols - 1) / 2.0F, (image.rows - 1) / 2.0F);
  cv::warpAffine(image, out, cv::getRotationMatrix2D(centre, degrees, fit), image.size(),
                 cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar::all(0));
  return out;
}

}  // namespace

cv::Mat ImageSet::to_mat(std::size_t index) const {
  const int plane = height * width;
  std::vector<cv::Mat> planes;
  for (int c = 0; c < channels; ++c) {
    planes.emplace_back(height, width, CV_8UC1, const_cast<uint8_t *>(image(index)) + c * plane);
  }
  // Stored RGB; OpenCV images are BGR.
  std::reverse(planes.begin(), planes.end());
  cv::Mat merged;
  cv::merge(planes, merged);
  return merged;
}

cv::Mat ImageSet::to_frame(std::size_t index, int size) const {
  cv::Mat frame;
  cv::resize(to_mat(index), frame, cv::Size(size, size), 0, 0, cv::INTER_CUBIC);
  return frame;
}

void ImageSet::append(const cv::Mat &image, int label) {
  CV_Assert(image.type() == CV_8UC(channels) && image.cols == width && image.rows == height);
  std::vector<cv::Mat> planes;
  cv::split(image, planes);
  std::reverse(planes.begin(), planes.end());
  for (const cv::Mat &plane : planes) {
    cv::Mat continuous = plane.isContinuous() ? plane : plane.clone();
    pixels.insert(pixels.end(), continuous.data, continuous.data + plane.total());
  }
  labels.push_back(label);
}

ImageSet load_idx(const std::string &images_path, const std::string &labels_path) {
  IdxContents images = read_idx(images_path, kIdxImagesMagic, "image");
  IdxContents labels = read_idx(labels_path, kIdxLabelsMagic, "label");
  if (images.dims[0] != labels.dims[0]) {
    throw Error(ErrorKind::kFormat, "IDX files disagree: " + images_path + " holds " +
                                        std::to_string(images.dims[0]) + " images but " +
                                        labels_path + " holds " + std::to_string(labels.dims[0]) +
                                        " labels.");
  }
  ImageSet set;
  set.channels = 1;
  set.height = static_cast<int>(images.dims[1]);
  set.width = static_cast<int>(images.dims[2]);
  set.pixels = std::move(images.payload);
  set.labels.assign(labels.payload.begin(), labels.payload.end());
  const int classes =
      set.labels.empty() ? 0 : *std::max_element(set.labels.begin(), set.labels.end()) + 1;
  for (int c = 0; c < classes; ++c) set.class_names.push_back(std::to_string(c));
  return set;
}

const std::vector<std::string> &fashion_mnist_class_names() {
  static const std::vector<std::string> kNames{"T-shirt/top", "Trouser",   "Pullover", "Dress",
                                               "Coat",        "Sandal",    "Shirt",    "Sneaker",
                                               "Bag",         "Ankle boot"};
  return kNames;
}

TrainTestSets load_fashion_mnist(const std::string &directory) {
  // Debian ships the files gzip-compressed; an unpacked copy works too.
  auto path = [&directory](const std::string &stem) {
    const std::string plain = directory + "/" + stem;
    return fs::exists(plain) ? plain : plain + ".gz";
  };
  TrainTestSets sets{load_idx(path("train-images-idx3-ubyte"), path("train-labels-idx1-ubyte")),
                     load_idx(path("t10k-images-idx3-ubyte"), path("t10k-labels-idx1-ubyte"))};
  for (ImageSet *set : {&sets.train, &sets.test}) {
    if (set->class_names.size() > fashion_mnist_class_names().size()) {
      throw Error(ErrorKind::kFormat, "Fashion-MNIST in " + directory + " has labels above 9.");
    }
    set->class_names = fashion_mnist_class_names();
  }
  return sets;
}

ImageSet load_image_folder(const std::string &root, int width, int height, int channels) {
  if (channels != 1 && channels != 3) {
    throw Error(ErrorKind::kSettings,
                "Image channels must be 1 or 3, not " + std::to_string(channels) + ".");
  }
  if (width <= 0 || height <= 0) {
    throw Error(ErrorKind::kSettings, "Image size must be positive, not " + std::to_string(width) +
                                          "x" + std::to_string(height) + ".");
  }
  std::error_code error;
  if (!fs::is_directory(root, error)) {
    throw Error(ErrorKind::kNotFound,
                "Image folder " + root + " does not exist or is not a directory.");
  }
  ImageSet set;
  set.channels = channels;
  set.height = height;
  set.width = width;
  for (const fs::path &class_dir : sorted_entries(root, true)) {
    const int label = static_cast<int>(set.class_names.size());
    set.class_names.push_back(class_dir.filename().string());
    const std::vector<fs::path> files = sorted_entries(class_dir, false);
    if (files.empty()) {
      throw Error(ErrorKind::kFormat,
                  "Class folder " + class_dir.string() + " holds no .png/.jpg/.jpeg/.bmp images.");
    }
    for (const fs::path &file : files)
      set.append(read_and_resize(file, width, height, channels), label);
  }
  check_trainable(set, "Image folder " + root);
  return set;
}

ImageSet load_image_files(const std::string &root, int width, int height, int channels,
                          const std::string &class_name) {
  if (!fs::is_directory(root)) {
    throw Error(ErrorKind::kNotFound,
                "Image folder " + root + " does not exist or is not a directory.");
  }
  std::vector<fs::path> files;
  for (const auto &entry : fs::recursive_directory_iterator(root)) {
    if (entry.is_regular_file() && is_image_file(entry.path())) files.push_back(entry.path());
  }
  if (files.empty()) {
    throw Error(ErrorKind::kFormat,
                "Image folder " + root + " holds no .png/.jpg/.jpeg/.bmp images.");
  }
  std::sort(files.begin(), files.end());
  ImageSet set;
  set.channels = channels;
  set.height = height;
  set.width = width;
  set.class_names = {class_name};
  for (const fs::path &file : files) set.append(read_and_resize(file, width, height, channels), 0);
  return set;
}

void check_trainable(const ImageSet &set, const std::string &source) {
  const auto by_class = indices_by_class(set);
  for (const auto &[label, members] : by_class) {
    if (members.size() < 2) {
      throw Error(ErrorKind::kFormat, source + ": class '" + set.class_names.at(label) +
                                          "' has only one image; a positive pair needs two.");
    }
  }
  if (by_class.size() < 2) {
    throw Error(ErrorKind::kFormat,
                source + " has " + std::to_string(by_class.size()) +
                    " class(es) with images; Siamese training needs at least two.");
  }
}

ImageSet subset(const ImageSet &set, const std::vector<std::size_t> &indices) {
  ImageSet result;
  result.channels = set.channels;
  result.height = set.height;
  result.width = set.width;
  result.class_names = set.class_names;
  result.pixels.reserve(indices.size() * set.image_bytes());
  result.labels.reserve(indices.size());
  for (std::size_t index : indices) {
    result.pixels.insert(result.pixels.end(), set.image(index),
                         set.image(index) + set.image_bytes());
    result.labels.push_back(set.labels.at(index));
  }
  return result;
}

TrainValidationSplit split_train_validation(const ImageSet &set, double validation_fraction,
                                            uint64_t seed) {
  if (!(validation_fraction >= 0.0 && validation_fraction < 1.0)) {
    throw Error(ErrorKind::kSettings, "Validation fraction must be in [0, 1), not " +
                                          std::to_string(validation_fraction) + ".");
  }
  std::mt19937_64 rng(seed);
  std::vector<std::size_t> train, validation;
  for (auto &[label, members] : indices_by_class(set)) {
    std::shuffle(members.begin(), members.end(), rng);
    std::size_t count = static_cast<std::size_t>(std::lround(validation_fraction * members.size()));
    if (validation_fraction > 0.0 && members.size() >= 2)
      count = std::clamp<std::size_t>(count, 1, members.size() - 1);
    validation.insert(validation.end(), members.begin(), members.begin() + count);
    train.insert(train.end(), members.begin() + count, members.end());
  }
  std::sort(train.begin(), train.end());
  std::sort(validation.begin(), validation.end());
  return {subset(set, train), subset(set, validation)};
}

HoldoutSplit split_holdout_classes(const ImageSet &set, const std::vector<int> &holdout_classes) {
  const int classes = static_cast<int>(set.class_names.size());
  for (int label : holdout_classes) {
    if (label < 0 || label >= classes) {
      throw Error(ErrorKind::kSettings, "Held-out class " + std::to_string(label) +
                                            " does not exist (classes are 0.." +
                                            std::to_string(classes - 1) + ").");
    }
  }
  std::vector<std::size_t> seen, held_out;
  for (std::size_t i = 0; i < set.size(); ++i) {
    const bool hold = std::find(holdout_classes.begin(), holdout_classes.end(), set.labels[i]) !=
                      holdout_classes.end();
    (hold ? held_out : seen).push_back(i);
  }
  return {subset(set, seen), subset(set, held_out)};
}

ImageSet limit_per_class(const ImageSet &set, std::size_t max_per_class, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::size_t> kept;
  for (auto &[label, members] : indices_by_class(set)) {
    if (members.size() > max_per_class) {
      std::shuffle(members.begin(), members.end(), rng);
      members.resize(max_per_class);
    }
    kept.insert(kept.end(), members.begin(), members.end());
  }
  std::sort(kept.begin(), kept.end());
  return subset(set, kept);
}

ImageSet with_turned_classes(const ImageSet &set, const TurnedClasses &which) {
  if (set.width != set.height)
    throw Error(ErrorKind::kSettings, "Turned classes need square images; these are " +
                                          std::to_string(set.width) + " x " +
                                          std::to_string(set.height) + ".");
  // Copies of every class under a name suffix; group g (from 1) holds class
  // c's copies as class c + g * classes.
  struct Group {
    const char *suffix;
    std::vector<int> turns;  // degrees counterclockwise
  };
  // A mirror, which the trainer may apply to any image, takes a turn by d
  // degrees into one by -d: each group holds a turn and its mirror image.
  std::vector<Group> groups;
  if (which.right_angles) {
    groups.push_back({" upside down", {180}});
    groups.push_back({" on its side", {270, 90}});
  }
  if (which.tilts) {
    groups.push_back({" tilted", {45}});
    groups.push_back({" tilted upside down", {135}});
  }
  const int classes = static_cast<int>(set.class_names.size());
  ImageSet out = set;
  std::size_t copies = 0;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    for (const std::string &name : set.class_names)
      out.class_names.push_back(name + groups[g].suffix);
    copies += groups[g].turns.size();
  }
  out.pixels.reserve(set.pixels.size() * (1 + copies));
  out.labels.reserve(set.size() * (1 + copies));
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const int offset = static_cast<int>(g + 1) * classes;
    for (const int degrees : groups[g].turns)
      for (std::size_t i = 0; i < set.size(); ++i)
        out.append(turned_by(set.to_mat(i), degrees), set.labels[i] + offset);
  }
  return out;
}

}  // namespace siamese::trainer
