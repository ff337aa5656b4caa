// SPDX-License-Identifier: LGPL-2.1-or-later
#include "recognizer.h"

#include <atomic>
#include <filesystem>

#include "errors.h"

namespace siamese {
namespace {

std::uint64_t next_id() {
  static std::atomic<std::uint64_t> last{0};
  return ++last;
}

}  // namespace

SharedEmbedder::SharedEmbedder(Embedder embedder, std::string path)
    : embedder_(std::move(embedder)), path_(std::move(path)), id_(next_id()) {}

cv::Mat SharedEmbedder::embed(const std::vector<cv::Mat> &images) {
  return with_embedder([&](Embedder &embedder) { return embedder.embed(images); });
}

Recognizer::Recognizer(std::shared_ptr<SharedEmbedder> model,
                       std::shared_ptr<const ReferenceSet> references,
                       const MatcherSettings &settings)
    : model_(std::move(model)),
      references_(references),
      matcher_(std::move(references), settings, model_->contract().head,
               model_->contract().cohort, model_->contract().background),
      id_(next_id()) {}

void Recognizer::check(const RecognizerSpec &spec) {
  if (spec.model.empty())
    throw Error(ErrorKind::kNotFound, "No model (an ONNX file) set: set the model property.");
  if (spec.reference.empty() && spec.gallery.empty())
    throw Error(ErrorKind::kNotFound,
                "No reference set: set the reference property (a folder <folder>/<label>/<image>"
                ".png) or the gallery property (a gallery file), or both.");
}

std::shared_ptr<const Recognizer> Recognizer::build(const RecognizerSpec &spec,
                                                    std::shared_ptr<SharedEmbedder> model,
                                                    Report *report) {
  check(spec);
  if (!model)
    model = std::make_shared<SharedEmbedder>(Embedder::load(spec.model, spec.overrides), spec.model);
  MatcherSettings matcher = spec.matcher;
  resolve_normalisation(spec.normalisation, model->contract(), matcher);

  Report local;
  Report &done = report ? *report : local;
  ReferenceSet references;
  const bool gallery_exists = !spec.gallery.empty() && std::filesystem::exists(spec.gallery);
  if (!spec.gallery.empty() && (gallery_exists || spec.reference.empty())) {
    Gallery gallery = load_gallery(spec.gallery);
    require_same_model(gallery, spec.gallery, model->fingerprint(), spec.model);
    references = std::move(gallery.references);
    done.gallery_loaded = true;
  }
  if (!spec.reference.empty()) {
    ReferenceSet::Report enrolment;
    model->with_embedder([&](Embedder &embedder) {
      references.add_folder(spec.reference, embedder, &enrolment);
    });
    done.skipped = std::move(enrolment.skipped);
    done.empty_labels = std::move(enrolment.empty_labels);
    done.enrolled = enrolment.added;
  }
  auto recognizer = std::make_shared<const Recognizer>(
      model, std::make_shared<const ReferenceSet>(std::move(references)), matcher);
  if (!spec.gallery.empty() && !spec.reference.empty() && (done.enrolled > 0 || !gallery_exists)) {
    save_gallery(spec.gallery, recognizer->gallery());
    done.gallery_written = true;
  }
  return recognizer;
}

std::shared_ptr<const Recognizer> Recognizer::with_references(ReferenceSet references) const {
  return std::make_shared<const Recognizer>(
      model_, std::make_shared<const ReferenceSet>(std::move(references)), matcher_.settings());
}

Gallery Recognizer::gallery() const {
  return {model_->fingerprint(), model_->path(), *references_};
}

}  // namespace siamese
