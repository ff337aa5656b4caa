// SPDX-License-Identifier: LGPL-2.1-or-later
#include "shared_recognizers.h"

#include <algorithm>
#include <filesystem>
#include <iterator>
#include <map>
#include <mutex>
#include <system_error>
#include <vector>

#include "digest.h"

namespace siamese {
namespace {

namespace fs = std::filesystem;

// "size:mtime" of a file, "" when it cannot be read (building then says why).
std::string file_state(const fs::path &path) {
  std::error_code error;
  const auto size = fs::file_size(path, error);
  if (error) return "";
  const auto modified = fs::last_write_time(path, error);
  if (error) return "";
  return std::to_string(size) + ":" + std::to_string(modified.time_since_epoch().count());
}

std::string canonical_name(const std::string &path) {
  std::error_code error;
  const fs::path canonical = fs::weakly_canonical(path, error);
  return error ? path : canonical.string();
}

// A file as it is now: its canonical path and state; "" for no file.
std::string file_identity(const std::string &path) {
  if (path.empty()) return "";
  return canonical_name(path) + "@" + file_state(path);
}

// A reference folder as it is now: its canonical path and a digest of the
// relative path and state of every file under it.
std::string folder_identity(const std::string &root) {
  if (root.empty()) return "";
  std::vector<std::string> entries;
  std::error_code error;
  for (fs::recursive_directory_iterator it(root, error), end; !error && it != end;
       it.increment(error)) {
    if (it->is_regular_file(error))
      entries.push_back(fs::relative(it->path(), root, error).string() + "@" +
                        file_state(it->path()));
  }
  std::sort(entries.begin(), entries.end());
  Sha256 digest;
  for (const std::string &entry : entries) digest.update(entry + "\n");
  return canonical_name(root) + "@" + digest.hex();
}

// The model file as it is now with the preprocessing in force.  The
// fingerprint covers the preprocessing overrides; the file's state covers
// the contract fields the fingerprint leaves out (thresholds, pair head).
std::string model_key(const std::string &path, const ContractOverrides &overrides) {
  return file_identity(path) + "#" + Embedder::fingerprint_of(path, overrides);
}

std::string recognizer_key(const std::string &model, const RecognizerSpec &spec) {
  const MatcherSettings &matcher = spec.matcher;
  return model + "|" + folder_identity(spec.reference) + "|" + file_identity(spec.gallery) + "|" +
         to_string(matcher.metric) + "|" + to_string(matcher.index) + "|" +
         to_string(matcher.aggregate) + "|" +
         std::to_string(matcher.threshold) + "|" + std::to_string(matcher.top_k) + "|" +
         to_string(spec.normalisation);
}

struct SharedBuild {
  std::weak_ptr<const Recognizer> recognizer;
  Recognizer::Report report;
};

// The registry: weak references by key.  Entries whose object is gone are
// pruned whenever the registry is used.
class Registry {
 public:
  static Registry &instance() {
    static Registry registry;
    return registry;
  }

  std::shared_ptr<SharedEmbedder> find_model(const std::string &key) {
    const std::lock_guard<std::mutex> lock(mutex_);
    prune();
    const auto found = models_.find(key);
    return found == models_.end() ? nullptr : found->second.lock();
  }

  // Registers `model` under `key`, or returns the one another user
  // registered meanwhile (so both end up sharing it).
  std::shared_ptr<SharedEmbedder> add_model(const std::string &key,
                                            std::shared_ptr<SharedEmbedder> model) {
    const std::lock_guard<std::mutex> lock(mutex_);
    std::weak_ptr<SharedEmbedder> &slot = models_[key];
    if (auto existing = slot.lock()) return existing;
    slot = model;
    return model;
  }

  std::shared_ptr<const Recognizer> find_recognizer(const std::string &key,
                                                    Recognizer::Report *report) {
    const std::lock_guard<std::mutex> lock(mutex_);
    prune();
    const auto found = recognizers_.find(key);
    if (found == recognizers_.end()) return nullptr;
    auto recognizer = found->second.recognizer.lock();
    if (recognizer && report) *report = found->second.report;
    return recognizer;
  }

  std::shared_ptr<const Recognizer> add_recognizer(const std::string &key,
                                                   std::shared_ptr<const Recognizer> recognizer,
                                                   const Recognizer::Report &report) {
    const std::lock_guard<std::mutex> lock(mutex_);
    SharedBuild &slot = recognizers_[key];
    if (auto existing = slot.recognizer.lock()) return existing;
    slot = {recognizer, report};
    return recognizer;
  }

  SharedCounts counts() {
    const std::lock_guard<std::mutex> lock(mutex_);
    prune();
    return {models_.size(), recognizers_.size()};
  }

 private:
  void prune() {
    erase_expired(models_, [](const std::weak_ptr<SharedEmbedder> &model) { return model; });
    erase_expired(recognizers_, [](const SharedBuild &build) { return build.recognizer; });
  }

  template <typename Map, typename Pointer>
  static void erase_expired(Map &entries, Pointer pointer) {
    for (auto it = entries.begin(); it != entries.end();)
      it = pointer(it->second).expired() ? entries.erase(it) : std::next(it);
  }

  std::mutex mutex_;
  std::map<std::string, std::weak_ptr<SharedEmbedder>> models_;
  std::map<std::string, SharedBuild> recognizers_;
};

std::shared_ptr<SharedEmbedder> shared_model(const std::string &key, const std::string &path,
                                             const ContractOverrides &overrides) {
  Registry &registry = Registry::instance();
  if (auto model = registry.find_model(key)) return model;
  return registry.add_model(
      key, std::make_shared<SharedEmbedder>(Embedder::load(path, overrides), path));
}

}  // namespace

std::shared_ptr<SharedEmbedder> shared_model(const std::string &path,
                                             const ContractOverrides &overrides) {
  return shared_model(model_key(path, overrides), path, overrides);
}

std::shared_ptr<const Recognizer> shared_recognizer(const RecognizerSpec &spec,
                                                    Recognizer::Report *report) {
  Recognizer::check(spec);
  Registry &registry = Registry::instance();
  const std::string model = model_key(spec.model, spec.overrides);
  if (auto recognizer = registry.find_recognizer(recognizer_key(model, spec), report))
    return recognizer;
  Recognizer::Report local;
  Recognizer::Report &done = report ? *report : local;
  auto recognizer = Recognizer::build(spec, shared_model(model, spec.model, spec.overrides), &done);
  // Keyed by the files as the build left them: enrolling a folder into the
  // gallery rewrites the gallery file, and the next user reads the new file.
  return registry.add_recognizer(recognizer_key(model, spec), std::move(recognizer), done);
}

SharedCounts shared_counts() { return Registry::instance().counts(); }

}  // namespace siamese
