// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A set of labelled reference embeddings ("templates"), enrolled from a
// folder <root>/<label>/*.{png,jpg,jpeg,bmp}, from single images or from
// frames, through the same Embedder that embeds frames.  Each template
// remembers where it came from (its provenance), so a gallery file can say
// which image made which embedding and a folder can be enrolled again
// without duplicating what is already there.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace siamese {

class Embedder;

// The largest reference image file read (docs/limits.md); a larger one is
// skipped like an image that does not decode.  Decoding is bounded further
// by OpenCV's own limit of 2^30 pixels.
inline constexpr std::size_t kMaxReferenceImageBytes = std::size_t{64} << 20;

// Where a template came from.
struct TemplateSource {
  std::string path;      // the image file, or a description such as "frame 0:00:01.2"
  std::string sha256;    // of the image file's bytes (sha256sum); "" for frames
  std::string enrolled;  // when, UTC, ISO 8601 ("2026-11-28T10:15:00Z")
  bool operator==(const TemplateSource &other) const {
    return path == other.path && sha256 == other.sha256 && enrolled == other.enrolled;
  }
};

// The reserved label of things that must never match (staff, the empty
// scene): a reference folder <root>/_background/ enrols them like any other
// label, and a frame whose best match is one of them is unknown (decide()
// in matcher.h), so this label is never declared.
inline constexpr char kBackgroundLabel[] = "_background";

// The current UTC time in the form TemplateSource::enrolled uses.
std::string utc_now();

class ReferenceSet {
 public:
  ReferenceSet() = default;
  // Copies own their embeddings: cv::Mat copies would share (and push_back
  // into) one buffer, so an edited copy could write beside the original.
  ReferenceSet(const ReferenceSet &other);
  ReferenceSet &operator=(const ReferenceSet &other);
  ReferenceSet(ReferenceSet &&) noexcept = default;
  ReferenceSet &operator=(ReferenceSet &&) noexcept = default;

  // What enrolment did, so the element can log or warn about it.
  struct Report {
    // "path: reason" for images that failed to decode or were too large, and
    // for folder entries that could not be examined (e.g. a looping link).
    std::vector<std::string> skipped;
    // Label folders without any usable image: their label is not enrolled.
    std::vector<std::string> empty_labels;
    std::size_t added = 0;             // templates added
    std::size_t already_present = 0;   // images skipped because the set holds them already
  };
  // Called after each image of a folder with (images done, images in all).
  using Progress = std::function<void(std::size_t done, std::size_t total)>;

  // Enrols every image in every label folder under `root`.  Images that fail
  // to decode, and entries that cannot be examined, are skipped and listed
  // in the report, as are label folders left without an image; throws
  // siamese::Error:
  //   kNotFound (root missing), kOpenRead (root not a readable folder),
  //   kSettings (no label folder holds a decodable image).
  static ReferenceSet enroll_folder(const std::string &root, Embedder &embedder,
                                    Report *report = nullptr);

  // Adds the images under `root` that the set does not hold yet (same label,
  // same content hash), so enrolling a folder again only embeds new images.
  // Throws as enroll_folder() does, except that a folder with nothing new is
  // fine when the set is not empty.
  void add_folder(const std::string &root, Embedder &embedder, Report *report = nullptr,
                  const Progress &progress = {});

  // Embeds one image file as a template of `label`.  Throws siamese::Error:
  // kNotFound (no such file), kOpenRead (unreadable or not an image),
  // kSettings (empty label).
  void add_image(const std::string &label, const std::string &path, Embedder &embedder);

  void add(const std::string &label, const cv::Mat &embedding_row, TemplateSource source = {});

  // A set from its rows, in one pass (for loading large galleries): one
  // label, embedding row (CV_32F) and source per template.  Throws
  // siamese::Error kSettings for an empty label, std::invalid_argument when
  // the counts differ.
  static ReferenceSet from_rows(const std::vector<std::string> &row_labels,
                                const cv::Mat &embeddings, std::vector<TemplateSource> sources);

  // One template per label: the mean of the label's templates, each
  // L2-normalised first so that each counts the same, L2-normalised again
  // (a mean of zero, from templates that cancel out, stays zero: it scores
  // cosine 0 with everything).  Its source's path says how many templates
  // it stands for.  What Aggregate::kPrototype searches (template_search.h).
  ReferenceSet prototypes() const;

  // Remove every template of `label`, or every template made from the image
  // `path`; return how many were removed.
  std::size_t remove_label(const std::string &label);
  std::size_t remove_source(const std::string &path);

  const std::vector<std::string> &labels() const;        // distinct labels, sorted
  const cv::Mat &embeddings() const;                     // templates x dim, CV_32F, rows normalised
  const std::vector<int> &template_labels() const;       // index into labels() per template row
  const std::vector<TemplateSource> &sources() const;    // per template row
  bool empty() const;
  int dimension() const;

 private:
  // Keeps the templates for which keep(row) is true; returns how many went.
  std::size_t keep_only(const std::function<bool(int row)> &keep);

  std::vector<std::string> labels_;
  std::vector<int> template_labels_;
  std::vector<TemplateSource> sources_;
  cv::Mat embeddings_;
};

}  // namespace siamese
