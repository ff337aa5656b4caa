// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The `siamese` plugin: registers its elements, siamesematch, siamesepublish and
// siameseoverlay.

#include <gst/gst.h>

#include "gstsiamesematch.h"
#include "gstsiameseoverlay.h"
#include "gstsiamesepublish.h"

static gboolean plugin_init(GstPlugin *plugin) {
  gboolean registered = GST_ELEMENT_REGISTER(siamesematch, plugin);
  registered &= GST_ELEMENT_REGISTER(siamesepublish, plugin);
  registered &= GST_ELEMENT_REGISTER(siameseoverlay, plugin);
  return registered;
}

GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, siamese,
                  "Matches video frames against a reference set with a Siamese embedding network",
                  plugin_init, PACKAGE_VERSION, "LGPL", GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
