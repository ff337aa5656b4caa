// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The evaluation protocol and its reports.  The ONNX entry point lives in
// evaluate_onnx.cpp so that this part links without the core's Embedder.
#include <chrono>
#include <cstdio>
#include <sstream>

#include "errors.h"
#include "evaluate_onnx.h"
#include "report_text.h"

namespace siamese::trainer {
namespace {

// The three sets the protocol embeds.
struct ProtocolSets {
  ImageSet references;  // training images of the seen classes
  ImageSet queries;     // test images of the seen classes
  ImageSet held_out;    // test images of the held-out classes
};

cv::Mat embed_checked(const EmbedFunction &embed, const ImageSet &set) {
  cv::Mat embeddings = embed(set);
  if (embeddings.type() != CV_32F || static_cast<std::size_t>(embeddings.rows) != set.size()) {
    throw Error(ErrorKind::kModel,
                "The embedding function returned a " + std::to_string(embeddings.rows) +
                    "-row matrix of type " + std::to_string(embeddings.type()) + " for " +
                    std::to_string(set.size()) + " images; expected CV_32F rows, one per image.");
  }
  return embeddings;
}

// Cosine verification of the fixed-seed pairs of `labels`, and the head's
// when there is one.
void verify(const cv::Mat &embeddings, const std::vector<int> &labels,
            const EvaluationOptions &options, const PairScoreFunction &head_scores,
            std::optional<Verification> &cosine, std::optional<Verification> &head) {
  const std::vector<Pair> pairs =
      evaluation_pairs(labels, options.verification_pairs, options.seed);
  cosine = verify_pairs(embeddings, pairs);
  if (head_scores) head = verify_pairs(head_scores(embeddings, pairs), pairs);
}

EmbeddingMetrics compute_metrics(const EmbedFunction &embed, const ProtocolSets &sets,
                                 const EvaluationOptions &options,
                                 const PairScoreFunction &head_scores) {
  EmbeddingMetrics metrics;
  const cv::Mat queries = embed_checked(embed, sets.queries);
  metrics.precision_at_1 = precision_at_1(
      queries, sets.queries.labels, embed_checked(embed, sets.references), sets.references.labels);
  std::optional<Verification> seen;
  verify(queries, sets.queries.labels, options, head_scores, seen, metrics.seen_head_verification);
  metrics.seen_verification = *seen;
  if (sets.held_out.size() == 0) return metrics;

  const cv::Mat held_out = embed_checked(embed, sets.held_out);
  const ClassIndex held_out_classes(sets.held_out.labels);
  if (held_out_classes.classes().size() >= 2 && !held_out_classes.pairable_classes().empty()) {
    verify(held_out, sets.held_out.labels, options, head_scores, metrics.held_out_verification,
           metrics.held_out_head_verification);
  }
  for (int shots : options.shots) {
    const FewShotOptions few_shot{options.ways,    shots,        options.queries_per_class,
                                  options.episodes, options.seed, options.aggregate};
    if (few_shot_possible(sets.held_out.labels, few_shot)) {
      metrics.few_shot.push_back(
          {options.ways, shots, few_shot_accuracy(held_out, sets.held_out.labels, few_shot)});
    }
  }
  return metrics;
}

std::string json_verification(const Verification &v) {
  return "{\"roc_auc\": " + format("%.4f", v.roc_auc) + ", \"eer\": " + format("%.4f", v.eer) +
         ", \"threshold\": " + format("%.4f", v.threshold) + "}";
}

std::string json_metrics(const EmbeddingMetrics &m) {
  std::string json = "{\"precision_at_1\": " + format("%.4f", m.precision_at_1) +
                     ", \"seen_verification\": " + json_verification(m.seen_verification);
  const std::pair<const char *, const std::optional<Verification> &> optional_figures[] = {
      {"held_out_verification", m.held_out_verification},
      {"seen_head_verification", m.seen_head_verification},
      {"held_out_head_verification", m.held_out_head_verification}};
  for (const auto &[name, figure] : optional_figures) {
    if (figure) json += ", \"" + std::string(name) + "\": " + json_verification(*figure);
  }
  json += ", \"few_shot\": [";
  for (std::size_t i = 0; i < m.few_shot.size(); ++i) {
    const FewShotFigure &f = m.few_shot[i];
    json += std::string(i ? ", " : "") + "{\"ways\": " + std::to_string(f.ways) +
            ", \"shots\": " + std::to_string(f.shots) +
            ", \"accuracy\": " + format("%.4f", f.result.accuracy) +
            ", \"ci95\": " + format("%.4f", f.result.ci95) + "}";
  }
  return json + "]}";
}

// One table row: a label, the model's figure and the baseline's.
void add_row(std::ostringstream &table, const std::string &label, const std::string &model,
             const std::string &baseline) {
  char line[160];
  std::snprintf(line, sizeof line, "  %-40s %18s %18s\n", label.c_str(), model.c_str(),
                baseline.c_str());
  table << line;
}

// `score` names what the threshold applies to (cos: cosine similarity, p:
// the head's probability); a figure without a baseline shows "-".
void add_verification_rows(std::ostringstream &table, const std::string &which,
                           const std::string &score, const Verification &model,
                           const Verification *baseline) {
  const auto figure = [baseline](double Verification::*field) {
    return baseline ? format("%.4f", baseline->*field) : std::string("-");
  };
  add_row(table, "ROC AUC, " + which, format("%.4f", model.roc_auc),
          figure(&Verification::roc_auc));
  add_row(table, "EER, " + which, format("%.4f", model.eer), figure(&Verification::eer));
  add_row(table, "EER threshold (" + score + "), " + which, format("%.4f", model.threshold),
          figure(&Verification::threshold));
}

std::string format_few_shot(const FewShotResult &result) {
  return format("%.4f", result.accuracy) + format(" +- %.4f", result.ci95);
}

}  // namespace

EvaluationReport evaluate(const EmbedFunction &embed, const std::string &model_name,
                          const ImageSet &train, const ImageSet &test,
                          const EvaluationOptions &options, const PairScoreFunction &head_scores) {
  HoldoutSplit train_split = split_holdout_classes(train, options.holdout_classes);
  HoldoutSplit test_split = split_holdout_classes(test, options.holdout_classes);
  const ProtocolSets sets{std::move(train_split.seen), std::move(test_split.seen),
                          std::move(test_split.held_out)};
  if (sets.references.size() == 0 || sets.queries.size() == 0) {
    throw Error(
        ErrorKind::kSettings,
        "Evaluation needs training and test images of the seen classes; holding out classes " +
            join(options.holdout_classes) + " leaves none.");
  }

  EvaluationReport report;
  report.model = model_name;
  report.options = options;
  report.references = sets.references.size();
  report.queries = sets.queries.size();
  report.held_out = sets.held_out.size();
  const auto start = std::chrono::steady_clock::now();
  report.metrics = compute_metrics(embed, sets, options, head_scores);
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  report.raw_pixels = compute_metrics(raw_pixel_embeddings, sets, options, {});
  return report;
}

std::string format_table(const EvaluationReport &report) {
  std::ostringstream table;
  table << "Evaluation of " << report.model << " (" << format("%.1f", report.seconds) << " s)\n"
        << "  references: " << report.references << " training images of the seen classes\n"
        << "  queries:    " << report.queries << " " << report.options.split
        << " images of the seen classes\n"
        << "  held out:   " << report.held_out << " " << report.options.split
        << " images of classes "
        << (report.options.holdout_classes.empty() ? "(none)"
                                                   : join(report.options.holdout_classes))
        << "\n";
  add_row(table, "", "model", "raw pixels");
  const EmbeddingMetrics &model = report.metrics;
  const EmbeddingMetrics &baseline = report.raw_pixels;
  add_row(table, "Precision@1, seen classes", format("%.4f", model.precision_at_1),
          format("%.4f", baseline.precision_at_1));
  add_verification_rows(table, "seen pairs", "cos", model.seen_verification,
                        &baseline.seen_verification);
  if (model.held_out_verification && baseline.held_out_verification) {
    add_verification_rows(table, "held-out pairs", "cos", *model.held_out_verification,
                          &*baseline.held_out_verification);
  }
  if (model.seen_head_verification) {
    add_verification_rows(table, "seen pairs, head", "p", *model.seen_head_verification, nullptr);
  }
  if (model.held_out_head_verification) {
    add_verification_rows(table, "held-out pairs, head", "p", *model.held_out_head_verification,
                          nullptr);
  }
  for (std::size_t i = 0; i < model.few_shot.size() && i < baseline.few_shot.size(); ++i) {
    const FewShotFigure &figure = model.few_shot[i];
    add_row(
        table,
        std::to_string(figure.ways) + "-way " + std::to_string(figure.shots) + "-shot, held out, " +
            to_string(report.options.aggregate),
        format_few_shot(figure.result), format_few_shot(baseline.few_shot[i].result));
  }
  table << "  (" << report.options.verification_pairs << " fixed-seed pairs; "
        << report.options.episodes << " episodes with " << report.options.queries_per_class
        << " queries per class; seed " << report.options.seed << ")\n";
  return table.str();
}

std::string to_json(const EvaluationReport &report) {
  const EvaluationOptions &o = report.options;
  return "{\"model\": " + json_string(report.model) + ", \"holdout_classes\": [" +
         join(o.holdout_classes) +
         "], \"verification_pairs\": " + std::to_string(o.verification_pairs) +
         ", \"episodes\": " + std::to_string(o.episodes) +
         ", \"aggregate\": \"" + to_string(o.aggregate) + "\"" +
         ", \"queries_per_class\": " + std::to_string(o.queries_per_class) +
         ", \"seed\": " + std::to_string(o.seed) +
         ", \"references\": " + std::to_string(report.references) +
         ", \"queries\": " + std::to_string(report.queries) +
         ", \"held_out\": " + std::to_string(report.held_out) +
         ", \"seconds\": " + format("%.2f", report.seconds) +
         ", \"metrics\": " + json_metrics(report.metrics) +
         ", \"raw_pixels\": " + json_metrics(report.raw_pixels) + "}";
}

}  // namespace siamese::trainer
