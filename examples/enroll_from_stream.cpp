// SPDX-License-Identifier: LGPL-2.1-or-later
//
// An application that enrols people (or objects) from a running camera or
// file stream with siamesematch's action signals, and saves the result as a
// gallery file for the next start:
//
//   SOURCE ! siamesematch model=MODEL gallery=GALLERY [reference=FOLDER] ! fakesink
//
// Commands on standard input while it runs (one per line):
//   enroll LABEL     the frame being shown becomes a template of LABEL
//   remove LABEL     forget LABEL
//   save             write GALLERY
//   quit
// or scripted, for a file: --enroll LABEL:N enrols the Nth embedded frame
// (from the bus's sync handler, in the streaming thread).
// The gallery is saved at the end of the stream.  Each match and each change
// of the set is printed.
//
//   siamese-enroll --model M --gallery G [--reference R] [--enroll LABEL:N ...] ["SOURCE"]
//   (SOURCE defaults to "v4l2src ! videoconvert")
#include <gst/gst.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "match_structure.h"

namespace {

struct App {
  GstElement *pipeline = nullptr;
  GstElement *matcher = nullptr;
  GMainLoop *loop = nullptr;
  std::multimap<int, std::string> scripted;  // embedded frame number -> label to enrol
  int embedded = 0;                          // counted in the streaming thread
  int frames = 0;                            // counted as the main loop prints them
  bool failed = false;
};

void enroll_frame(App &app, const std::string &label) {
  gboolean ok = FALSE;
  g_signal_emit_by_name(app.matcher, "enroll-frame", label.c_str(), -1, &ok);
  if (!ok) std::printf("could not enrol %s (see the warning above)\n", label.c_str());
}

void save(App &app) {
  gboolean ok = FALSE;
  g_signal_emit_by_name(app.matcher, "save", nullptr, &ok);
  gchar *gallery = nullptr;
  g_object_get(app.matcher, "gallery", &gallery, nullptr);
  std::printf(ok ? "saved %s\n" : "could not save %s (see the warning above)\n", gallery);
  g_free(gallery);
  if (!ok) app.failed = true;
}

// One stdin command.
void command(App &app, const std::string &line) {
  const std::size_t space = line.find(' ');
  const std::string verb = line.substr(0, space);
  const std::string argument = space == std::string::npos ? "" : line.substr(space + 1);
  if (verb == "enroll" && !argument.empty()) {
    enroll_frame(app, argument);
  } else if (verb == "remove" && !argument.empty()) {
    gboolean ok = FALSE;
    g_signal_emit_by_name(app.matcher, "remove", argument.c_str(), &ok);
  } else if (verb == "save") {
    save(app);
  } else if (verb == "quit") {
    gst_element_send_event(app.pipeline, gst_event_new_eos());
  } else if (!verb.empty()) {
    std::printf("commands: enroll LABEL, remove LABEL, save, quit\n");
  }
}

gboolean on_stdin(GIOChannel *channel, GIOCondition, gpointer data) {
  gchar *line = nullptr;
  if (g_io_channel_read_line(channel, &line, nullptr, nullptr, nullptr) != G_IO_STATUS_NORMAL)
    return G_SOURCE_REMOVE;
  command(*static_cast<App *>(data), g_strstrip(line));
  g_free(line);
  return G_SOURCE_CONTINUE;
}

// Scripted enrolments run in the streaming thread, as the element posts a
// frame's result: the frame it enrols is then exactly the Nth (the main loop
// may be frames behind).
GstBusSyncReply on_message_posted(GstBus *, GstMessage *message, gpointer data) {
  App &app = *static_cast<App *>(data);
  if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ELEMENT &&
      gst_structure_has_name(gst_message_get_structure(message), siamese::kMatchStructureName)) {
    const auto [first, last] = app.scripted.equal_range(++app.embedded);
    for (auto it = first; it != last; ++it) enroll_frame(app, it->second);
  }
  return GST_BUS_PASS;
}

gboolean on_message(GstBus *, GstMessage *message, gpointer data) {
  App &app = *static_cast<App *>(data);
  switch (GST_MESSAGE_TYPE(message)) {
    case GST_MESSAGE_ELEMENT: {
      const GstStructure *structure = gst_message_get_structure(message);
      if (gst_structure_has_name(structure, "siamesematch-gallery")) {
        guint labels = 0, templates = 0;
        gst_structure_get_uint(structure, "labels", &labels);
        gst_structure_get_uint(structure, "templates", &templates);
        std::printf("%s %s: %u labels, %u templates\n", gst_structure_get_string(structure, "action"),
                    gst_structure_get_string(structure, "label"), labels, templates);
      } else if (const auto result = siamese::match_from_structure(structure)) {
        ++app.frames;
        std::printf("frame %d: %s (score %.3f)\n", app.frames,
                    result->matched ? result->label.c_str() : "unknown", result->score);
      }
      break;
    }
    case GST_MESSAGE_WARNING: {
      GError *error = nullptr;
      gst_message_parse_warning(message, &error, nullptr);
      std::printf("warning: %s\n", error->message);
      g_error_free(error);
      break;
    }
    case GST_MESSAGE_ERROR: {
      GError *error = nullptr;
      gst_message_parse_error(message, &error, nullptr);
      std::fprintf(stderr, "siamese-enroll: %s\n", error->message);
      g_error_free(error);
      app.failed = true;
      g_main_loop_quit(app.loop);
      break;
    }
    case GST_MESSAGE_EOS:
      save(app);
      g_main_loop_quit(app.loop);
      break;
    default: break;
  }
  return G_SOURCE_CONTINUE;
}

}  // namespace

int main(int argc, char **argv) {
  gchar *model = nullptr, *gallery = nullptr, *reference = nullptr;
  gchar **enrolments = nullptr;
  gboolean version = FALSE;
  const GOptionEntry entries[] = {
      {"model", 0, 0, G_OPTION_ARG_FILENAME, &model, "ONNX embedding network", "MODEL"},
      {"gallery", 0, 0, G_OPTION_ARG_FILENAME, &gallery, "Gallery file (loaded when it exists, saved at the end)", "GALLERY"},
      {"reference", 0, 0, G_OPTION_ARG_FILENAME, &reference, "Folder <label>/*.png to start from", "FOLDER"},
      {"enroll", 0, 0, G_OPTION_ARG_STRING_ARRAY, &enrolments, "Enrol the Nth embedded frame as LABEL", "LABEL:N"},
      {"version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", nullptr},
      {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr},
  };
  GOptionContext *context = g_option_context_new("[\"SOURCE\"] - enrol from a stream by signal");
  g_option_context_add_main_entries(context, entries, nullptr);
  g_option_context_add_group(context, gst_init_get_option_group());
  GError *error = nullptr;
  const bool parsed = g_option_context_parse(context, &argc, &argv, &error);
  g_option_context_free(context);
  if (parsed && version) {
    std::printf("siamese-enroll %s\n", SIAMESE_VERSION);
    return 0;
  }
  if (!parsed || !model || !gallery) {
    std::fprintf(stderr, "siamese-enroll: %s\n",
                 error ? error->message : "--model and --gallery are required (see --help)");
    return 2;
  }

  App app;
  for (gchar **entry = enrolments; entry && *entry; ++entry) {
    const std::string text = *entry;
    const std::size_t colon = text.rfind(':');
    const int frame = colon == std::string::npos ? 0 : std::atoi(text.c_str() + colon + 1);
    if (frame <= 0) {
      std::fprintf(stderr, "siamese-enroll: --enroll takes LABEL:N with N >= 1, not %s\n", *entry);
      return 2;
    }
    app.scripted.emplace(frame, text.substr(0, colon));
  }
  const std::string source = argc > 1 ? argv[1] : "v4l2src ! videoconvert";
  std::string description = source + " ! siamesematch name=matcher model=\"" + model +
                            "\" gallery=\"" + gallery + "\"";
  if (reference) description += std::string(" reference=\"") + reference + "\"";
  description += " ! fakesink";
  app.pipeline = gst_parse_launch(description.c_str(), &error);
  if (!app.pipeline) {
    std::fprintf(stderr, "siamese-enroll: %s\n", error->message);
    return 1;
  }
  app.matcher = gst_bin_get_by_name(GST_BIN(app.pipeline), "matcher");
  app.loop = g_main_loop_new(nullptr, FALSE);
  GstBus *bus = gst_element_get_bus(app.pipeline);
  gst_bus_set_sync_handler(bus, on_message_posted, &app, nullptr);
  gst_bus_add_watch(bus, on_message, &app);
  GIOChannel *input = g_io_channel_unix_new(0);
  g_io_add_watch(input, static_cast<GIOCondition>(G_IO_IN | G_IO_HUP), on_stdin, &app);

  gst_element_set_state(app.pipeline, GST_STATE_PLAYING);
  g_main_loop_run(app.loop);
  gst_element_set_state(app.pipeline, GST_STATE_NULL);

  g_io_channel_unref(input);
  gst_bus_remove_watch(bus);
  gst_bus_set_sync_handler(bus, nullptr, nullptr, nullptr);
  gst_object_unref(bus);
  gst_object_unref(app.matcher);
  gst_object_unref(app.pipeline);
  g_main_loop_unref(app.loop);
  g_strfreev(enrolments);
  g_free(model);
  g_free(gallery);
  g_free(reference);
  return app.failed ? 1 : 0;
}
