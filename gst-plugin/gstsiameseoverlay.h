// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <gst/video/gstvideofilter.h>

G_BEGIN_DECLS

#define GST_TYPE_SIAMESE_OVERLAY (gst_siamese_overlay_get_type())
G_DECLARE_FINAL_TYPE(GstSiameseOverlay, gst_siamese_overlay, GST, SIAMESE_OVERLAY, GstVideoFilter)

GST_ELEMENT_REGISTER_DECLARE(siameseoverlay);

G_END_DECLS
