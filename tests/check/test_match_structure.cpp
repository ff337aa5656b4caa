// SPDX-License-Identifier: LGPL-2.1-or-later
//
// MatchResult <-> GstStructure: every field survives the round trip, also
// through the structure's text form (what gst-launch-1.0 -m prints), and a
// structure missing a field is refused rather than half-read.
#include <gtest/gtest.h>

#include "match_structure.h"

namespace siamese {
namespace {

class MatchStructureTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { gst_init(nullptr, nullptr); }

  static MatchResult sample() {
    MatchResult result;
    result.matched = true;
    result.label = "red";
    result.reason = Reason::kMatched;
    result.frame_label = "red";
    result.best_label = "red";
    result.score = 0.987654321012345;
    result.distance = 0.15713484026367724;
    result.threshold = 0.95;
    result.metric = "cosine";
    result.top = {{"red", 0.987654321012345, 0.15713484026367724, std::nullopt},
                  {"yellow, with \"quotes\"", 0.5, 1.0, std::nullopt},
                  {"", -0.25, 1.5811388300841898, std::nullopt}};
    return result;
  }

  // A result decided with cohort normalisation and a model background, held
  // by confirmation.
  static MatchResult normalised_sample() {
    MatchResult result = sample();
    result.reason = Reason::kUnconfirmed;
    result.frame_label = "";
    result.normalised_score = 3.25;
    result.normalised_threshold = 2.5;
    result.background_score = 0.875;
    const double normalised[] = {3.25, -0.5, -1.75};
    for (std::size_t i = 0; i < result.top.size(); ++i) result.top[i].normalised_score = normalised[i];
    return result;
  }
};

// Structure and back gives the same result, field for field.
TEST_F(MatchStructureTest, RoundTrip) {
  GstStructure *structure = match_to_structure(sample());
  EXPECT_TRUE(gst_structure_has_name(structure, kMatchStructureName));
  const auto back = match_from_structure(structure);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, sample());
  gst_structure_free(structure);
}

// Normalised scores, the normalised threshold, the reason and the frame's own
// label round-trip too.
TEST_F(MatchStructureTest, RoundTripNormalised) {
  GstStructure *structure = match_to_structure(normalised_sample());
  EXPECT_STREQ(gst_structure_get_string(structure, "reason"), "unconfirmed");
  const auto back = match_from_structure(structure);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, normalised_sample());
  gst_structure_free(structure);
}

// Without a cohort the normalised fields are absent, not zero.
TEST_F(MatchStructureTest, NormalisedFieldsAbsentWithoutCohort) {
  GstStructure *structure = match_to_structure(sample());
  for (const char *field : {"normalised-score", "normalised-threshold", "top-normalised-scores"})
    EXPECT_FALSE(gst_structure_has_field(structure, field)) << field;
  gst_structure_free(structure);
}

// An unknown result with no top list also round-trips.
TEST_F(MatchStructureTest, RoundTripUnknownEmptyTop) {
  MatchResult unknown;
  unknown.best_label = "blue";
  unknown.metric = "euclidean";
  GstStructure *structure = match_to_structure(unknown);
  const auto back = match_from_structure(structure);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, unknown);
  gst_structure_free(structure);
}

// The text form parses back to the same result (doubles serialise exactly).
TEST_F(MatchStructureTest, RoundTripThroughText) {
  GstStructure *structure = match_to_structure(sample());
  gchar *text = gst_structure_to_string(structure);
  GstStructure *parsed = gst_structure_from_string(text, nullptr);
  ASSERT_NE(parsed, nullptr) << text;
  const auto back = match_from_structure(parsed);
  ASSERT_TRUE(back.has_value()) << text;
  EXPECT_EQ(*back, sample());
  gst_structure_free(parsed);
  g_free(text);
  gst_structure_free(structure);
}

// Missing or mistyped fields, or arrays of different lengths, give no result.
TEST_F(MatchStructureTest, IncompleteStructuresAreRefused) {
  for (const char *field : {"matched", "label", "reason", "frame-label", "best-label", "score",
                            "distance", "threshold", "metric", "top-labels", "top-scores",
                            "top-distances"}) {
    GstStructure *structure = match_to_structure(sample());
    gst_structure_remove_field(structure, field);
    EXPECT_FALSE(match_from_structure(structure).has_value()) << field;
    gst_structure_set(structure, field, G_TYPE_INT, 1, nullptr);
    EXPECT_FALSE(match_from_structure(structure).has_value()) << field << " as int";
    gst_structure_free(structure);
  }
  for (const char *field : {"normalised-score", "normalised-threshold", "top-normalised-scores"}) {
    GstStructure *structure = match_to_structure(normalised_sample());
    gst_structure_set(structure, field, G_TYPE_INT, 1, nullptr);
    EXPECT_FALSE(match_from_structure(structure).has_value()) << field << " as int";
    gst_structure_free(structure);
  }
  GstStructure *unknown_reason = match_to_structure(sample());
  gst_structure_set(unknown_reason, "reason", G_TYPE_STRING, "perhaps", nullptr);
  EXPECT_FALSE(match_from_structure(unknown_reason).has_value());
  gst_structure_free(unknown_reason);
  GstStructure *structure = match_to_structure(sample());
  MatchResult shorter = sample();
  shorter.top.pop_back();
  GstStructure *short_structure = match_to_structure(shorter);
  gst_structure_set_value(structure, "top-scores",
                          gst_structure_get_value(short_structure, "top-scores"));
  EXPECT_FALSE(match_from_structure(structure).has_value());
  gst_structure_free(short_structure);
  gst_structure_free(structure);
}

}  // namespace
}  // namespace siamese
