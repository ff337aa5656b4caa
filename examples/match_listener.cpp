// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A small application reading siamesematch's results from the bus: it runs
//   SOURCE ! siamesematch model=MODEL reference=FOLDER messages=on-change ! fakesink
// and prints one line each time the matched label changes, decoded with
// siamese::match_from_structure() (the same code the element writes with).
//
//   siamese-listen MODEL REFERENCE_FOLDER ["SOURCE"]  |  siamese-listen --version
//   (SOURCE defaults to "videotestsrc num-buffers=100")
#include <gst/gst.h>

#include <cstdio>
#include <string>

#include "match_structure.h"

namespace {

void print_match(const GstStructure *structure) {
  const auto result = siamese::match_from_structure(structure);
  if (!result) return;
  GstClockTime timestamp = GST_CLOCK_TIME_NONE;
  gst_structure_get_uint64(structure, "timestamp", &timestamp);
  std::printf("%" GST_TIME_FORMAT "  %-12s score %.3f (%s, threshold %.3f; best %s)\n",
              GST_TIME_ARGS(timestamp), result->matched ? result->label.c_str() : "(unknown)",
              result->score, result->metric.c_str(), result->threshold, result->best_label.c_str());
}

// Runs the pipeline to its end; returns false after an error (already printed).
bool run(GstElement *pipeline) {
  // A failure to start is reported on the bus, read below.
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  GstBus *bus = gst_element_get_bus(pipeline);
  bool ok = true;
  for (bool done = false; !done;) {
    GstMessage *message = gst_bus_timed_pop_filtered(
        bus, GST_CLOCK_TIME_NONE,
        static_cast<GstMessageType>(GST_MESSAGE_ELEMENT | GST_MESSAGE_ERROR | GST_MESSAGE_EOS));
    switch (GST_MESSAGE_TYPE(message)) {
      case GST_MESSAGE_ELEMENT: {
        const GstStructure *structure = gst_message_get_structure(message);
        if (gst_structure_has_name(structure, siamese::kMatchStructureName)) print_match(structure);
        break;
      }
      case GST_MESSAGE_ERROR: {
        GError *error = nullptr;
        gst_message_parse_error(message, &error, nullptr);
        std::fprintf(stderr, "siamese-listen: %s\n", error->message);
        g_error_free(error);
        ok = false;
        done = true;
        break;
      }
      default: done = true; break;
    }
    gst_message_unref(message);
  }
  gst_object_unref(bus);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  return ok;
}

}  // namespace

int main(int argc, char **argv) {
  gst_init(&argc, &argv);
  if (argc == 2 && std::string(argv[1]) == "--version") {
    std::printf("siamese-listen %s\n", SIAMESE_VERSION);
    return 0;
  }
  if (argc < 3 || argc > 4) {
    std::fprintf(stderr, "usage: %s MODEL REFERENCE_FOLDER [\"SOURCE\"]\n", argv[0]);
    return 2;
  }
  const std::string source = argc == 4 ? argv[3] : "videotestsrc num-buffers=100";
  const std::string description = source + " ! siamesematch model=\"" + argv[1] +
                                  "\" reference=\"" + argv[2] + "\" messages=on-change ! fakesink";
  GError *error = nullptr;
  GstElement *pipeline = gst_parse_launch(description.c_str(), &error);
  if (!pipeline || error) {
    std::fprintf(stderr, "siamese-listen: %s\n",
                 error ? error->message : "cannot build the pipeline");
    if (error) g_error_free(error);
    if (pipeline) gst_object_unref(pipeline);
    return 1;
  }
  const bool ok = run(pipeline);
  gst_object_unref(pipeline);
  return ok ? 0 : 1;
}
