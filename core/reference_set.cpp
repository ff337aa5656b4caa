// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Enrolment policy: an image that does not decode is skipped and reported
// (the caller warns), so one bad file does not stop a pipeline; only a set
// with no usable image at all is an error.  Folders and files are visited in
// sorted order so the template order, and with it every tie-break, is the
// same on every machine.
#include "reference_set.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include <opencv2/imgcodecs.hpp>

#include "embedder.h"
#include "errors.h"

namespace siamese {
namespace {

namespace fs = std::filesystem;

// Images decoded per Embedder::embed call: bounds memory for large sets.
constexpr std::size_t kImagesPerBatch = 32;

bool is_image_name(const fs::path &path) {
  std::string extension = path.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return extension == ".png" || extension == ".jpg" || extension == ".jpeg" || extension == ".bmp";
}

bool is_hidden(const fs::path &path) { return path.filename().string().rfind('.', 0) == 0; }

// The sorted entries of `folder` that satisfy `keep`; throws kOpenRead when
// the folder cannot be listed.
template <typename Predicate>
std::vector<fs::path> sorted_entries(const fs::path &folder, Predicate keep) {
  std::vector<fs::path> entries;
  try {
    for (const auto &entry : fs::directory_iterator(folder))
      if (!is_hidden(entry.path()) && keep(entry)) entries.push_back(entry.path());
  } catch (const fs::filesystem_error &error) {
    throw Error(ErrorKind::kOpenRead,
                "The reference folder " + folder.string() + " cannot be read: " +
                    error.code().message() + ".");
  }
  std::sort(entries.begin(), entries.end());
  return entries;
}

cv::Mat decode(const fs::path &path, std::string &reason) {
  try {
    cv::Mat image = cv::imread(path.string(), cv::IMREAD_COLOR);
    if (image.empty()) reason = "not a decodable image";
    return image;
  } catch (const cv::Exception &error) {
    reason = error.err;
    return {};
  }
}

}  // namespace

ReferenceSet ReferenceSet::enroll_folder(const std::string &root, Embedder &embedder,
                                         Report *report) {
  std::error_code error;
  const auto status = fs::status(root, error);
  if (!fs::exists(status))
    throw Error(ErrorKind::kNotFound, "The reference folder " + root + " does not exist.");
  if (!fs::is_directory(status))
    throw Error(ErrorKind::kOpenRead, "The reference path " + root + " is not a folder.");

  ReferenceSet set;
  std::vector<cv::Mat> images;
  std::vector<std::string> image_labels;
  const auto flush = [&] {
    const cv::Mat embeddings = embedder.embed(images);
    for (std::size_t i = 0; i < images.size(); ++i)
      set.add(image_labels[i], embeddings.row(static_cast<int>(i)));
    images.clear();
    image_labels.clear();
  };

  const auto label_folders =
      sorted_entries(root, [](const fs::directory_entry &entry) { return entry.is_directory(); });
  for (const auto &folder : label_folders) {
    const std::string label = folder.filename().string();
    const auto files = sorted_entries(folder, [](const fs::directory_entry &entry) {
      return entry.is_regular_file() && is_image_name(entry.path());
    });
    for (const auto &file : files) {
      std::string reason;
      cv::Mat image = decode(file, reason);
      if (image.empty()) {
        if (report) report->skipped.push_back(file.string() + ": " + reason);
        continue;
      }
      images.push_back(std::move(image));
      image_labels.push_back(label);
      if (images.size() == kImagesPerBatch) flush();
    }
  }
  flush();

  if (set.empty())
    throw Error(ErrorKind::kSettings,
                "The reference folder " + root +
                    " holds no usable image: put images in one folder per label, " + root +
                    "/<label>/*.png (or .jpg, .jpeg, .bmp).");
  return set;
}

void ReferenceSet::add(const std::string &label, const cv::Mat &embedding_row) {
  if (embedding_row.rows != 1 || embedding_row.channels() != 1 ||
      (!empty() && embedding_row.cols != dimension()))
    throw Error(ErrorKind::kFormat, "A reference embedding for \"" + label + "\" has " +
                                        std::to_string(embedding_row.total()) +
                                        " values; the set holds embeddings of length " +
                                        std::to_string(dimension()) + ".");
  const auto position = std::lower_bound(labels_.begin(), labels_.end(), label);
  const int index = static_cast<int>(position - labels_.begin());
  if (position == labels_.end() || *position != label) {
    labels_.insert(position, label);
    // Keep labels_ sorted: templates of labels after the new one move up.
    for (int &existing : template_labels_)
      if (existing >= index) ++existing;
  }
  template_labels_.push_back(index);
  cv::Mat row;
  embedding_row.convertTo(row, CV_32F);
  embeddings_.push_back(row);
}

const std::vector<std::string> &ReferenceSet::labels() const { return labels_; }
const cv::Mat &ReferenceSet::embeddings() const { return embeddings_; }
const std::vector<int> &ReferenceSet::template_labels() const { return template_labels_; }
bool ReferenceSet::empty() const { return template_labels_.empty(); }
int ReferenceSet::dimension() const { return embeddings_.cols; }

}  // namespace siamese
