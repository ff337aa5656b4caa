// SPDX-License-Identifier: LGPL-2.1-or-later
// The model fingerprint changes with what changes an embedding (network,
// preprocessing) and with nothing else; digests are sha256sum's.
#include <gtest/gtest.h>

#include "digest.h"
#include "embedder.h"
#include "model_fingerprint.h"
#include "thrown_kind.h"

namespace siamese {
namespace {

TEST(Digest, Sha256OfKnownTexts) {
  // FIPS 180-2 test vectors.
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(ModelFingerprint, StableAcrossLoadsAndKnownWithoutLoading) {
  // The same file gives the same fingerprint, loaded or only read.
  const Embedder first = Embedder::load(SIAMESE_FIXTURE_MEAN_COLOUR_ONNX);
  const Embedder second = Embedder::load(SIAMESE_FIXTURE_MEAN_COLOUR_ONNX);
  EXPECT_EQ(first.fingerprint().size(), 64u);
  EXPECT_EQ(first.fingerprint(), second.fingerprint());
  EXPECT_EQ(Embedder::fingerprint_of(SIAMESE_FIXTURE_MEAN_COLOUR_ONNX), first.fingerprint());
  EXPECT_EQ(short_fingerprint(first.fingerprint()), first.fingerprint().substr(0, 12));
}

TEST(ModelFingerprint, DecisionMetadataDoesNotChangeIt) {
  // mean_colour_head.onnx is the same network with another metric, threshold
  // and a pair head: its embeddings are the same, and so is its fingerprint.
  EXPECT_EQ(Embedder::fingerprint_of(SIAMESE_FIXTURE_MEAN_COLOUR_ONNX),
            Embedder::fingerprint_of(SIAMESE_FIXTURE_MEAN_COLOUR_HEAD_ONNX));
}

TEST(ModelFingerprint, NetworkAndPreprocessingChangeIt) {
  // Another network, or other preprocessing of the same one, is another model.
  const std::string base = Embedder::fingerprint_of(SIAMESE_FIXTURE_MEAN_COLOUR_ONNX);
  EXPECT_NE(Embedder::fingerprint_of(SIAMESE_FIXTURE_GREY_ONNX), base);
  ContractOverrides mean;
  mean.mean = std::array<float, 3>{10.f, 10.f, 10.f};
  EXPECT_NE(Embedder::fingerprint_of(SIAMESE_FIXTURE_MEAN_COLOUR_ONNX, mean), base);
  ContractOverrides colour;
  colour.color = ColorOrder::kBgr;
  EXPECT_NE(Embedder::fingerprint_of(SIAMESE_FIXTURE_MEAN_COLOUR_ONNX, colour), base);
  ContractOverrides size;
  size.width = 16;
  EXPECT_NE(Embedder::fingerprint_of(SIAMESE_FIXTURE_MEAN_COLOUR_ONNX, size), base);
}

TEST(ModelFingerprint, UnreadableModelsAreErrors) {
  // Reading a fingerprint fails as loading does.
  EXPECT_EQ(thrown_kind([] { Embedder::fingerprint_of("/nonexistent/model.onnx"); },
                        "/nonexistent/model.onnx"),
            ErrorKind::kNotFound);
  EXPECT_EQ(thrown_kind([] { Embedder::fingerprint_of(SIAMESE_FIXTURE_NOT_ONNX_ONNX); },
                        SIAMESE_FIXTURE_NOT_ONNX_ONNX),
            ErrorKind::kModel);
}

}  // namespace
}  // namespace siamese
