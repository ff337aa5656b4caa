// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The `siamese` plugin: registers its one element, siamesematch.

#include <gst/gst.h>

#include "gstsiamesematch.h"

static gboolean plugin_init(GstPlugin *plugin) {
  return GST_ELEMENT_REGISTER(siamesematch, plugin);
}

GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, siamese,
                  "Matches video frames against a reference set with a Siamese embedding network",
                  plugin_init, PACKAGE_VERSION, "LGPL", GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
