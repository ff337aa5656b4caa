// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <gst/base/gstbasetransform.h>

G_BEGIN_DECLS

#define GST_TYPE_SIAMESE_PUBLISH (gst_siamese_publish_get_type())
G_DECLARE_FINAL_TYPE(GstSiamesePublish, gst_siamese_publish, GST, SIAMESE_PUBLISH, GstBaseTransform)

GST_ELEMENT_REGISTER_DECLARE(siamesepublish);

G_END_DECLS
