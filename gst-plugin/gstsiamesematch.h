// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <gst/video/gstvideofilter.h>

G_BEGIN_DECLS

#define GST_TYPE_SIAMESE_MATCH (gst_siamese_match_get_type())
G_DECLARE_FINAL_TYPE(GstSiameseMatch, gst_siamese_match, GST, SIAMESE_MATCH, GstVideoFilter)

GST_ELEMENT_REGISTER_DECLARE(siamesematch);

G_END_DECLS
