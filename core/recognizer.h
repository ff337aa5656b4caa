// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Everything a frame is matched with, built in one place: the loaded model,
// the reference set (from a gallery file, a folder of images, or both) and
// the search over it.  A Recognizer is immutable once built, so a thread
// matching with it never sees a half-built set: a change (a reload, an
// enrolment, a removal) builds a new Recognizer beside the old one, and the
// owner swaps the two.  The model is shared between a Recognizer and the
// ones derived from it, and between owners that load the same files
// (shared_recognizers.h).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "decision_settings.h"
#include "embedder.h"
#include "gallery_file.h"
#include "matcher.h"
#include "reference_set.h"

namespace siamese {

// An Embedder several threads may use: embed() runs one call at a time (a
// cv::dnn::Net is not safe to share between threads).
class SharedEmbedder {
 public:
  SharedEmbedder(Embedder embedder, std::string path);
  cv::Mat embed(const std::vector<cv::Mat> &images);
  // Runs `use` with the Embedder, one caller at a time.
  template <typename Use>
  auto with_embedder(Use use) {
    const std::lock_guard<std::mutex> lock(mutex_);
    return use(embedder_);
  }
  const ModelContract &contract() const { return embedder_.contract(); }
  const std::string &fingerprint() const { return embedder_.fingerprint(); }
  int dimension() const { return embedder_.dimension(); }
  const std::string &path() const { return path_; }
  // Unique in the process: users showing the same id share this network.
  std::uint64_t id() const { return id_; }

 private:
  std::mutex mutex_;
  Embedder embedder_;
  std::string path_;
  std::uint64_t id_;
};

// What to build.
struct RecognizerSpec {
  std::string model;            // ONNX file
  ContractOverrides overrides;  // preprocessing properties
  std::string reference;        // folder <reference>/<label>/*.png, or ""
  std::string gallery;          // gallery file, or ""
  MatcherSettings matcher;      // its metric and index build the search
  // Score normalisation against the model's cohort (decided once the model
  // is loaded: auto depends on it); it replaces matcher.normalise and
  // matcher.cohort_top.
  Normalisation normalisation = Normalisation::kOff;
};

class Recognizer {
 public:
  // What building did, for the owner to log, warn about or announce.
  struct Report {
    std::vector<std::string> skipped;  // unreadable reference images, "path: reason"
    std::vector<std::string> empty_labels;  // label folders without a usable image
    std::size_t enrolled = 0;          // templates embedded from the folder
    bool gallery_loaded = false;
    bool gallery_written = false;      // the folder's new images were saved into the gallery
  };

  // Loads the model (unless `model` is given, e.g. shared with another user:
  // it must be the spec's model), then the reference set: the gallery file,
  // checked against the model's fingerprint; then the folder's images the
  // gallery does not hold yet, written back to the gallery file when there
  // were any (or when the file did not exist).  With only a folder, the
  // folder is enrolled; with only a gallery, the file must exist.
  // Throws siamese::Error: kNotFound (nothing to load, or missing paths),
  // and whatever loading the model, the gallery or the folder throws.
  // Throws siamese::Error kNotFound when `spec` names no model or no
  // reference set, as build() does.
  static void check(const RecognizerSpec &spec);

  static std::shared_ptr<const Recognizer> build(const RecognizerSpec &spec,
                                                 std::shared_ptr<SharedEmbedder> model = nullptr,
                                                 Report *report = nullptr);

  // A Recognizer with other references and the same model and settings.
  std::shared_ptr<const Recognizer> with_references(ReferenceSet references) const;

  SharedEmbedder &model() const { return *model_; }
  std::shared_ptr<SharedEmbedder> shared_model() const { return model_; }
  const ReferenceSet &references() const { return *references_; }
  const Matcher &matcher() const { return matcher_; }
  // The set as a gallery (this model's fingerprint).
  Gallery gallery() const;
  // Unique in the process: users showing the same id share this reference
  // set and its search.
  std::uint64_t id() const { return id_; }

  Recognizer(std::shared_ptr<SharedEmbedder> model, std::shared_ptr<const ReferenceSet> references,
             const MatcherSettings &settings);

 private:
  std::shared_ptr<SharedEmbedder> model_;
  std::shared_ptr<const ReferenceSet> references_;
  Matcher matcher_;
  std::uint64_t id_;
};

}  // namespace siamese
