// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Small pieces of GObject glue that every element of the plugin uses.
#pragma once

#include <gst/gst.h>

namespace siamese {

// GST_OBJECT_LOCK for one scope, so early returns and exceptions unlock.
class ObjectLock {
 public:
  explicit ObjectLock(gpointer object) : object_(GST_OBJECT(object)) { GST_OBJECT_LOCK(object_); }
  ~ObjectLock() { GST_OBJECT_UNLOCK(object_); }
  ObjectLock(const ObjectLock &) = delete;
  ObjectLock &operator=(const ObjectLock &) = delete;

 private:
  GstObject *object_;
};

// Registers a property's enum type on first use, from any thread.
inline GType register_enum_once(GType &type, const char *name, const GEnumValue *values) {
  if (g_once_init_enter(&type)) g_once_init_leave(&type, g_enum_register_static(name, values));
  return type;
}

}  // namespace siamese
