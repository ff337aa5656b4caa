// SPDX-License-Identifier: LGPL-2.1-or-later
//
// siamese-gallery: builds, lists, edits and checks gallery files (the saved
// reference sets siamesematch loads with its `gallery` property) from the
// command line, with the element's own core, so a gallery built here is
// exactly what the element would have enrolled.
//
//   siamese-gallery build  GALLERY --model M --folder F   enrol <F>/<label>/*.png (adds new images to an existing gallery)
//   siamese-gallery list   GALLERY [--templates]          labels, counts, fingerprint; each template's source
//   siamese-gallery add    GALLERY --model M --label L IMAGE...
//   siamese-gallery remove GALLERY (--label L | --image PATH)...
//   siamese-gallery check  GALLERY --model M              exit 0 when the model made the gallery
//
// Exit status: 0 success, 1 an error (the message names the file or value),
// 2 a command-line mistake, 3 `check` found another model's fingerprint.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "embedder.h"
#include "errors.h"
#include "gallery_file.h"
#include "model_fingerprint.h"

namespace {

constexpr int kFailure = 1;
constexpr int kUsage = 2;
constexpr int kOtherModel = 3;

// The model options every command that embeds or checks takes: the file,
// and the preprocessing overrides for models without metadata (they are part
// of the fingerprint, as they are in the element).
struct ModelOptions {
  std::string path;
  int input_width = 0;
  int input_height = 0;
  std::string color_order;
  std::string mean;
  std::string scale;

  void add_to(CLI::App &command) {
    command.add_option("--model", path, "ONNX embedding network")->required();
    command.add_option("--input-width", input_width, "Network input width (models without metadata)");
    command.add_option("--input-height", input_height, "Network input height (models without metadata)");
    command.add_option("--color-order", color_order, "gray, rgb or bgr (models without metadata)");
    command.add_option("--mean", mean, "Per-channel mean on the 0-255 scale, \"a,b,c\" or one value");
    command.add_option("--scale", scale, "Per-channel factor after the mean, \"a,b,c\" or one value");
  }

  siamese::ContractOverrides overrides() const {
    siamese::ContractOverrides result;
    if (input_width > 0) result.width = input_width;
    if (input_height > 0) result.height = input_height;
    try {
      if (!color_order.empty()) result.color = siamese::color_order_from_string(color_order);
      if (!mean.empty()) result.mean = siamese::parse_triple(mean, "--mean");
      if (!scale.empty()) result.scale = siamese::parse_triple(scale, "--scale");
    } catch (const std::invalid_argument &error) {
      throw siamese::Error(siamese::ErrorKind::kSettings, std::string(error.what()) + ".");
    }
    return result;
  }
};

// "label: n templates" per label, sorted by label.
std::map<std::string, int> templates_per_label(const siamese::ReferenceSet &set) {
  std::map<std::string, int> counts;
  for (const int label : set.template_labels()) ++counts[set.labels()[label]];
  return counts;
}

// Progress on stderr, one line rewritten in place, at most every 1%.
siamese::ReferenceSet::Progress progress_printer(bool quiet) {
  if (quiet) return {};
  return [last = std::size_t{0}](std::size_t done, std::size_t total) mutable {
    if (done != total && (done - last) * 100 < total) return;
    last = done;
    std::fprintf(stderr, "\renrolling: %zu of %zu images", done, total);
    if (done == total) std::fputc('\n', stderr);
  };
}

void report_enrolment(const siamese::ReferenceSet::Report &report) {
  for (const std::string &skipped : report.skipped)
    std::fprintf(stderr, "siamese-gallery: skipped %s\n", skipped.c_str());
  for (const std::string &folder : report.empty_labels)
    std::fprintf(stderr, "siamese-gallery: the label folder %s holds no usable image\n",
                 folder.c_str());
  std::printf("added %zu templates (%zu images were already in the gallery, %zu skipped)\n",
              report.added, report.already_present, report.skipped.size());
}

// The gallery at `path` checked against `embedder`, or a new empty one when
// there is no file yet and `may_be_new`.
siamese::Gallery open_for_edit(const std::string &path, const siamese::Embedder &embedder,
                               const std::string &model_path, bool may_be_new) {
  siamese::Gallery gallery;
  if (may_be_new && !std::filesystem::exists(path)) {
    gallery.fingerprint = embedder.fingerprint();
  } else {
    gallery = siamese::load_gallery(path);
    siamese::require_same_model(gallery, path, embedder.fingerprint(), model_path);
  }
  gallery.model = model_path;
  return gallery;
}

void print_summary(const siamese::Gallery &gallery, const std::string &path) {
  const siamese::ReferenceSet &set = gallery.references;
  std::printf("gallery %s\n", path.c_str());
  std::printf("model fingerprint %s\n", gallery.fingerprint.c_str());
  std::printf("model %s\n", gallery.model.c_str());
  std::printf("%zu labels, %d templates of %d floats\n", set.labels().size(),
              set.embeddings().rows, set.dimension());
}

}  // namespace

int main(int argc, char **argv) {
  CLI::App app{"Builds, lists, edits and checks siamesematch gallery files.", "siamese-gallery"};
  app.set_version_flag("--version", std::string("siamese-gallery ") + SIAMESE_VERSION);
  app.require_subcommand(1);
  std::string gallery_path;
  ModelOptions model;
  bool quiet = false;

  CLI::App *build = app.add_subcommand(
      "build", "Enrol a folder <folder>/<label>/*.png|jpg into the gallery (created when missing; "
               "images already in it are not embedded again)");
  std::string folder;
  build->add_option("gallery", gallery_path, "Gallery file to write")->required();
  build->add_option("--folder", folder, "Folder with one sub-folder of images per label")->required();
  model.add_to(*build);
  build->add_flag("--quiet", quiet, "No progress on stderr");

  CLI::App *list = app.add_subcommand("list", "Print the gallery's model, labels and templates");
  bool show_templates = false;
  list->add_option("gallery", gallery_path, "Gallery file")->required();
  list->add_flag("--templates", show_templates,
                 "One line per template: label, source, its sha256, when enrolled");

  CLI::App *add = app.add_subcommand("add", "Enrol images under one label");
  std::string label;
  std::vector<std::string> images;
  add->add_option("gallery", gallery_path, "Gallery file (created when missing)")->required();
  add->add_option("--label", label, "Label of the images")->required();
  add->add_option("images", images, "Image files")->required();
  model.add_to(*add);

  CLI::App *remove = app.add_subcommand("remove", "Remove labels or the templates of images");
  std::vector<std::string> remove_labels, remove_images;
  remove->add_option("gallery", gallery_path, "Gallery file")->required();
  remove->add_option("--label", remove_labels, "Remove every template of this label");
  remove->add_option("--image", remove_images, "Remove the templates made from this image path");

  CLI::App *check = app.add_subcommand(
      "check", "Check that the gallery is valid and was made by the model (exit 3 if not)");
  check->add_option("gallery", gallery_path, "Gallery file")->required();
  model.add_to(*check);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &error) {
    const int status = app.exit(error);
    return status == 0 ? 0 : kUsage;
  }

  try {
    if (list->parsed()) {
      const siamese::Gallery gallery = siamese::load_gallery(gallery_path);
      print_summary(gallery, gallery_path);
      for (const auto &[name, count] : templates_per_label(gallery.references))
        std::printf("  %s: %d\n", name.c_str(), count);
      if (show_templates) {
        const siamese::ReferenceSet &set = gallery.references;
        for (std::size_t t = 0; t < set.sources().size(); ++t) {
          const siamese::TemplateSource &source = set.sources()[t];
          std::printf("%zu\t%s\t%s\t%s\t%s\n", t + 1, set.labels()[set.template_labels()[t]].c_str(),
                      source.path.c_str(), source.sha256.c_str(), source.enrolled.c_str());
        }
      }
      return 0;
    }
    if (remove->parsed()) {
      if (remove_labels.empty() && remove_images.empty())
        throw siamese::Error(siamese::ErrorKind::kSettings,
                             "Nothing to remove: give --label or --image.");
      siamese::Gallery gallery = siamese::load_gallery(gallery_path);
      std::size_t removed = 0;
      for (const std::string &name : remove_labels) removed += gallery.references.remove_label(name);
      for (const std::string &image : remove_images)
        removed += gallery.references.remove_source(image);
      if (removed == 0)
        throw siamese::Error(siamese::ErrorKind::kSettings,
                             "The gallery " + gallery_path + " holds none of those labels or images.");
      siamese::save_gallery(gallery_path, gallery);
      std::printf("removed %zu templates\n", removed);
      return 0;
    }
    if (check->parsed()) {
      const siamese::Gallery gallery = siamese::load_gallery(gallery_path);
      const std::string fingerprint = siamese::Embedder::fingerprint_of(model.path, model.overrides());
      try {
        siamese::require_same_model(gallery, gallery_path, fingerprint, model.path);
      } catch (const siamese::Error &error) {
        std::fprintf(stderr, "siamese-gallery: %s\n", error.what());
        return kOtherModel;
      }
      print_summary(gallery, gallery_path);
      std::printf("valid, made by this model\n");
      return 0;
    }

    siamese::Embedder embedder = siamese::Embedder::load(model.path, model.overrides());
    siamese::Gallery gallery = open_for_edit(gallery_path, embedder, model.path, true);
    if (build->parsed()) {
      siamese::ReferenceSet::Report report;
      gallery.references.add_folder(folder, embedder, &report, progress_printer(quiet));
      report_enrolment(report);
    } else {
      for (const std::string &image : images) gallery.references.add_image(label, image, embedder);
      std::printf("added %zu templates to %s\n", images.size(), label.c_str());
    }
    siamese::save_gallery(gallery_path, gallery);
    print_summary(gallery, gallery_path);
    return 0;
  } catch (const std::exception &error) {
    std::fprintf(stderr, "siamese-gallery: %s\n", error.what());
    return kFailure;
  }
}
