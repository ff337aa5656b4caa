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
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <stdexcept>

#include <opencv2/imgcodecs.hpp>

#include "digest.h"
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

// What a folder entry is, following symbolic links.  An entry whose status
// cannot be read (a looping or dangling link, no permission) is kBroken, with
// the system's reason, so one bad entry is skipped rather than failing the set.
enum class EntryKind { kFolder, kImage, kOther, kBroken };

EntryKind classify(const fs::directory_entry &entry, std::string &reason) {
  std::error_code error;
  const fs::file_status status = entry.status(error);
  if (error) {
    reason = error.message();
    return EntryKind::kBroken;
  }
  if (fs::is_directory(status)) return EntryKind::kFolder;
  if (fs::is_regular_file(status) && is_image_name(entry.path())) return EntryKind::kImage;
  return EntryKind::kOther;
}

// The sorted entries of `folder` of kind `wanted`; entries that cannot be
// examined go to `broken` as "path: reason".  Throws kOpenRead when the
// folder itself cannot be listed.
std::vector<fs::path> sorted_entries(const fs::path &folder, EntryKind wanted,
                                     std::vector<std::string> &broken) {
  std::vector<fs::path> entries;
  try {
    for (const auto &entry : fs::directory_iterator(folder)) {
      if (is_hidden(entry.path())) continue;
      std::string reason;
      const EntryKind kind = classify(entry, reason);
      if (kind == wanted)
        entries.push_back(entry.path());
      else if (kind == EntryKind::kBroken)
        broken.push_back(entry.path().string() + ": " + reason);
    }
  } catch (const fs::filesystem_error &error) {
    throw Error(ErrorKind::kOpenRead,
                "The reference folder " + folder.string() + " cannot be read: " +
                    error.code().message() + ".");
  }
  std::sort(entries.begin(), entries.end());
  std::sort(broken.begin(), broken.end());
  return entries;
}

// An image file read once: its bytes give both the content hash and the
// decoded picture (empty, with `reason`, when it does not decode).
struct ImageFile {
  cv::Mat image;
  std::string sha256;
  std::string reason;
};

ImageFile read_image(const fs::path &path) {
  ImageFile file;
  std::error_code error;
  const auto size = fs::file_size(path, error);
  if (!error && size > kMaxReferenceImageBytes) {
    file.reason = "is " + std::to_string(size >> 20) + " MiB, more than the " +
                  std::to_string(kMaxReferenceImageBytes >> 20) + " MiB a reference image may have";
    return file;
  }
  std::ifstream stream(path, std::ios::binary);
  const std::string bytes{std::istreambuf_iterator<char>(stream), std::istreambuf_iterator<char>()};
  if (!stream.is_open() || stream.bad()) {
    file.reason = "cannot be read";
    return file;
  }
  file.sha256 = sha256_hex(bytes);
  try {
    const cv::Mat buffer(1, static_cast<int>(bytes.size()), CV_8U, const_cast<char *>(bytes.data()));
    if (!bytes.empty()) file.image = cv::imdecode(buffer, cv::IMREAD_COLOR);
    if (file.image.empty()) file.reason = "not a decodable image";
  } catch (const cv::Exception &error) {
    file.reason = error.err;
  }
  return file;
}

std::string template_key(const std::string &label, const std::string &sha256) {
  return label + '\n' + sha256;
}

void require_label(const std::string &label) {
  if (label.empty())
    throw Error(ErrorKind::kSettings, "A template needs a label: the label is empty.");
}

}  // namespace

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

ReferenceSet::ReferenceSet(const ReferenceSet &other)
    : labels_(other.labels_),
      template_labels_(other.template_labels_),
      sources_(other.sources_),
      embeddings_(other.embeddings_.clone()) {}

ReferenceSet &ReferenceSet::operator=(const ReferenceSet &other) {
  if (this != &other) *this = ReferenceSet(other);
  return *this;
}

ReferenceSet ReferenceSet::enroll_folder(const std::string &root, Embedder &embedder,
                                         Report *report) {
  ReferenceSet set;
  set.add_folder(root, embedder, report);
  return set;
}

void ReferenceSet::add_folder(const std::string &root, Embedder &embedder, Report *report,
                              const Progress &progress) {
  std::error_code error;
  const auto status = fs::status(root, error);
  if (!fs::exists(status))
    throw Error(ErrorKind::kNotFound, "The reference folder " + root + " does not exist.");
  if (!fs::is_directory(status))
    throw Error(ErrorKind::kOpenRead, "The reference path " + root + " is not a folder.");

  Report local;
  Report &done = report ? *report : local;
  // Every image first, so progress can count against the total.
  std::vector<std::pair<std::string, fs::path>> files;
  const auto label_folders = sorted_entries(root, EntryKind::kFolder, done.skipped);
  for (const auto &folder : label_folders)
    for (const auto &file : sorted_entries(folder, EntryKind::kImage, done.skipped))
      files.emplace_back(folder.filename().string(), file);

  std::set<std::string> present;
  for (std::size_t t = 0; t < sources_.size(); ++t)
    present.insert(template_key(labels_[template_labels_[t]], sources_[t].sha256));
  // Labels with a usable image, to name the label folders without one.
  std::set<std::string> usable;
  std::vector<cv::Mat> images;
  std::vector<std::pair<std::string, TemplateSource>> pending;
  const auto flush = [&] {
    const cv::Mat embeddings = embedder.embed(images);
    for (std::size_t i = 0; i < images.size(); ++i)
      add(pending[i].first, embeddings.row(static_cast<int>(i)), pending[i].second);
    done.added += images.size();
    images.clear();
    pending.clear();
  };
  for (std::size_t i = 0; i < files.size(); ++i) {
    const auto &[label, path] = files[i];
    ImageFile file = read_image(path);
    if (!file.image.empty()) usable.insert(label);
    if (file.image.empty()) {
      done.skipped.push_back(path.string() + ": " + file.reason);
    } else if (!present.insert(template_key(label, file.sha256)).second) {
      ++done.already_present;
    } else {
      images.push_back(std::move(file.image));
      pending.push_back({label, {path.string(), file.sha256, utc_now()}});
      if (images.size() == kImagesPerBatch) flush();
    }
    if (progress) progress(i + 1, files.size());
  }
  flush();
  for (const auto &folder : label_folders)
    if (!usable.count(folder.filename().string())) done.empty_labels.push_back(folder.string());

  if (empty())
    throw Error(ErrorKind::kSettings,
                "The reference folder " + root +
                    " holds no usable image: put images in one folder per label, " + root +
                    "/<label>/*.png (or .jpg, .jpeg, .bmp).");
}

void ReferenceSet::add_image(const std::string &label, const std::string &path,
                             Embedder &embedder) {
  require_label(label);
  std::error_code error;
  const auto status = fs::status(path, error);
  if (!fs::exists(status))
    throw Error(ErrorKind::kNotFound, "The image " + path + " does not exist.");
  if (!fs::is_regular_file(status))
    throw Error(ErrorKind::kOpenRead, "The image path " + path + " is not a file.");
  ImageFile file = read_image(path);
  if (file.image.empty())
    throw Error(ErrorKind::kOpenRead, "The image " + path + " " + file.reason + ".");
  add(label, embedder.embed(file.image), {path, file.sha256, utc_now()});
}

void ReferenceSet::add(const std::string &label, const cv::Mat &embedding_row,
                       TemplateSource source) {
  require_label(label);
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
  sources_.push_back(std::move(source));
  cv::Mat row;
  embedding_row.convertTo(row, CV_32F);
  embeddings_.push_back(row);
}

std::size_t ReferenceSet::remove_label(const std::string &label) {
  return keep_only([&](int row) { return labels_[template_labels_[row]] != label; });
}

std::size_t ReferenceSet::remove_source(const std::string &path) {
  return keep_only([&](int row) { return sources_[row].path != path; });
}

std::size_t ReferenceSet::keep_only(const std::function<bool(int row)> &keep) {
  std::vector<std::string> row_labels;
  std::vector<TemplateSource> sources;
  cv::Mat embeddings;
  for (int row = 0; row < embeddings_.rows; ++row) {
    if (!keep(row)) continue;
    row_labels.push_back(labels_[template_labels_[row]]);
    sources.push_back(std::move(sources_[row]));
    embeddings.push_back(embeddings_.row(row));
  }
  const std::size_t removed = template_labels_.size() - row_labels.size();
  *this = from_rows(row_labels, embeddings, std::move(sources));
  return removed;
}

ReferenceSet ReferenceSet::from_rows(const std::vector<std::string> &row_labels,
                                     const cv::Mat &embeddings,
                                     std::vector<TemplateSource> sources) {
  if (static_cast<int>(row_labels.size()) != embeddings.rows ||
      row_labels.size() != sources.size() || (embeddings.rows > 0 && embeddings.type() != CV_32FC1))
    throw std::invalid_argument("ReferenceSet::from_rows: one label, embedding and source per row");
  ReferenceSet set;
  std::map<std::string, int> index;
  for (const std::string &label : row_labels) {
    require_label(label);
    index.emplace(label, 0);
  }
  for (auto &[label, number] : index) {
    number = static_cast<int>(set.labels_.size());
    set.labels_.push_back(label);
  }
  set.template_labels_.reserve(row_labels.size());
  for (const std::string &label : row_labels) set.template_labels_.push_back(index[label]);
  set.sources_ = std::move(sources);
  set.embeddings_ = embeddings.clone();
  return set;
}

ReferenceSet ReferenceSet::prototypes() const {
  cv::Mat sums = cv::Mat::zeros(static_cast<int>(labels_.size()), dimension(), CV_32F);
  std::vector<std::size_t> counts(labels_.size(), 0);
  for (int row = 0; row < embeddings_.rows; ++row) {
    const double norm = cv::norm(embeddings_.row(row));
    if (norm > 0.0) sums.row(template_labels_[row]) += embeddings_.row(row) / norm;
    ++counts[template_labels_[row]];
  }
  std::vector<TemplateSource> sources;
  for (std::size_t label = 0; label < labels_.size(); ++label) {
    cv::Mat sum = sums.row(static_cast<int>(label));
    const double norm = cv::norm(sum);
    if (norm > 0.0) sum /= norm;
    sources.push_back({"prototype of " + std::to_string(counts[label]) + " templates", "", ""});
  }
  return from_rows(labels_, sums, std::move(sources));
}

const std::vector<std::string> &ReferenceSet::labels() const { return labels_; }
const cv::Mat &ReferenceSet::embeddings() const { return embeddings_; }
const std::vector<int> &ReferenceSet::template_labels() const { return template_labels_; }
const std::vector<TemplateSource> &ReferenceSet::sources() const { return sources_; }
bool ReferenceSet::empty() const { return template_labels_.empty(); }
int ReferenceSet::dimension() const { return embeddings_.cols; }

}  // namespace siamese
