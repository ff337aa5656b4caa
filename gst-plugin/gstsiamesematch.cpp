// SPDX-License-Identifier: LGPL-2.1-or-later

/**
 * SECTION:element-siamesematch
 * @title: siamesematch
 *
 * Tags every video frame with its best match from a reference set of
 * labelled images, using an embedding network in ONNX format run by OpenCV
 * DNN (for example the network `siamese-train` trains as a Siamese network).
 * The frame passes through unchanged; the result travels as region metadata
 * on the buffer and as an element message on the bus.
 *
 * The reference set is a folder with one sub-folder per label:
 * `<reference>/<label>/<image>` (PNG, JPEG or BMP), one or more images per
 * label, or a gallery file (`gallery`), or both.  Folder images are embedded
 * when the element starts, through the same preprocessing as the frames.  An
 * image that cannot be decoded is skipped with a warning naming it; a folder
 * without any usable image is an error.
 *
 * A gallery file holds the embeddings with their labels, where each came
 * from, and the fingerprint of the model that made them (docs/gallery.md;
 * `siamese-gallery` builds, lists, edits and checks them).  It loads
 * without re-embedding; a gallery made by another model is refused (STREAM
 * FORMAT, naming both fingerprints).  With `reference` and `gallery` both
 * set, the folder's images that the gallery does not hold yet are embedded
 * and the gallery file is written (created when missing).
 *
 * The element converts frames to what the network needs itself (size,
 * colour order, mean and scale): no videoconvert or videoscale is needed in
 * front of it.  Preprocessing and the default threshold come from the
 * model's metadata (written by siamese-train); the input-* / color-order /
 * mean / scale properties supply or override them for models without it.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 -m v4l2src ! siamesematch model=model.onnx reference=faces/ ! autovideosink
 * ]| Prints a `siamesematch` message for every frame (-m shows bus messages).
 * |[
 * gst-launch-1.0 -m filesrc location=clip.mp4 ! decodebin ! siamesematch model=model.onnx \
 *     reference=refs/ interval=5 messages=on-change metric=euclidean ! fakesink
 * ]| Embeds every 5th frame and posts a message only when the matched label changes.
 * |[
 * gst-launch-1.0 -m videotestsrc ! video/x-raw,format=NV12,width=1280,height=720 ! \
 *     siamesematch model=model.onnx reference=refs/ messages=on-match top-k=1 ! fakesink
 * ]| Any supported format and size goes in directly; only matches are posted.
 * |[
 * gst-launch-1.0 -m v4l2src ! siamesematch model=model.onnx gallery=watchlist.gallery \
 *     index=faiss-hnsw ! fakesink
 * ]| Matches against a saved gallery (here a large one, searched approximately).
 *
 * ## Properties in short
 * * model: ONNX file (required).  reference: folder of labelled images (required).
 * * metric: cosine (default), euclidean or learned (the model's pair head; refused
 *   with an error when the model has none).
 * * threshold: -1 (default) means the model's threshold calibrated at
 *   `false-accept-rate`, else its equal-error threshold for the metric, else
 *   0.5 (cosine: similarity >= t), 1.0 (euclidean: distance of the
 *   normalised embeddings <= t) or 0.5 (learned: probability >= t).
 * * false-accept-rate, normalise, normalised-threshold, margin,
 *   confirm-frames: the open-set decisions (below).
 * * top-k: how many labels the result lists.  interval: embed every Nth frame.
 * * messages: every-frame (default), on-change, on-match or none.
 * * input-width, input-height, color-order, mean, scale: preprocessing overrides.
 * * threads: OpenCV threads (process-wide).
 * * regions: auto (default) embeds the regions of interest upstream attached,
 *   or the whole frame when it has none; regions embeds only regions (a frame
 *   without any gets no result); frame embeds whole frames (see below).
 *   roi-types: which region types count ("face", "face,person"; empty: all).
 *   min-region-size: smaller regions (width or height, pixels) do not count.
 * * gallery: a gallery file (with or instead of reference).
 * * index: exact (default, our brute force), faiss-flat (exact) or faiss-hnsw
 *   (approximate, for very large galleries; cosine and euclidean only).
 * * aggregate: how a label with several reference images is scored: best
 *   (default: as its most similar image) or prototype (as the mean of its
 *   images' normalised embeddings, normalised again: every image has a say,
 *   one odd image weighs less).  It holds wherever the images come from (a
 *   folder, a gallery file, an enrolment while running) and with every
 *   index; `score`, `distance` and the `top` list are then those of the
 *   prototypes.  The default was measured on validation images
 *   (models/README.md).
 * * share: TRUE (default) shares the network and the reference set with the
 *   other instances of the process that use the same files (see below).
 *   network-id, reference-set-id (read-only) tell which instances share.
 * * async: FALSE (default) embeds each frame before passing it on; TRUE
 *   passes frames on at once and delivers results later (see below).
 *   async-queue-size: frames that may wait for the forward pass (default 2).
 *   async-dropped (read-only): frames a full queue dropped.
 *
 * threshold, top-k, interval, messages, regions, roi-types, min-region-size,
 * false-accept-rate, normalised-threshold, margin, background-margin and
 * confirm-frames take effect on the next frame.  model, reference, gallery, metric, index,
 * aggregate, normalise and the preprocessing properties set while the element runs
 * reload in the background: the new set is built beside the one in use and
 * replaces it when ready (a `siamesematch-gallery` message with action
 * `reload`); when that fails, a warning says why and the set in use stays.
 * threads, async and async-queue-size apply at the next start.
 *
 * ## Open-set decisions: saying "unknown"
 * Most of what a camera sees was never enrolled.  A frame is declared a
 * label only when its best label passes every rule below, in this order;
 * the first that fails makes the frame unknown and names the `reason`:
 *
 * * `background`: the best label is `_background`, the reserved label of
 *   things that must never match (staff, the empty scene): put their images
 *   in `<reference>/_background/` (or enrol them under that label).  It is
 *   never declared.  Also `background` when the model carries a background
 *   of its own (what siamese-train calibrate writes: the mean image of each
 *   training class, generated shapes and textures) and the frame's cosine to
 *   its best label does not beat its cosine to the nearest of them by
 *   `background-margin` (negative: may fall short by that much).  Unset, the
 *   margin is that of the model's calibrated point in force (each point
 *   carries its own, or none), else the model's recommendation, else the
 *   rule is off.
 * * `below-threshold`: the best score misses `threshold`; or, when scores
 *   are normalised, the normalised score misses `normalised-threshold`.
 *   Normalisation (`normalise`) compares the frame's score with how similar
 *   the frame and the reference image (or, as the model says, the frame
 *   alone) are to the model's cohort (training images the model carries): a
 *   frame similar to everything no longer passes.  The raw threshold stays
 *   beside it, because normalisation alone lets through frames similar to
 *   nothing (flat frames, other domains).
 * * `ambiguous`: the best label's score does not beat the second's by
 *   `margin`.
 *
 * The thresholds come from the model when it carries thresholds calibrated
 * at false-accept rates (siamese-train writes them): `false-accept-rate`
 * picks the one calibrated at the largest rate not above it.  Over time,
 * `confirm-frames` N declares a label (or unknown) for a region, followed
 * from frame to frame by its overlap, or for the whole frame, only after N
 * consecutive frames agree; until then the result keeps what was declared
 * before with reason `unconfirmed`, and `frame-label` says what the frame
 * alone decided.  With `messages=on-change` only declared changes post.
 * The confirmation restarts at each flush, new stream and new segment.
 *
 * ## Many cameras, one network
 * Instances of one process (one per camera, say) whose `model` is the same
 * file with the same preprocessing load the network once and share it; when
 * their `reference` folder, `gallery` file, `metric`, `index` and `aggregate` are the same
 * too, they share one reference set and its search as well.  "The same"
 * means the same files as they are on disk now: a file changed since
 * another instance loaded it is loaded again.  Shared instances run their
 * forward passes one at a time, each with all of OpenCV's `threads`; with
 * `share=false` an instance loads a copy of its own, costing the memory of a
 * network and a set but running beside the others.  An action (enroll,
 * remove, ...) or a reload changes the set of that instance only.  The
 * read-only `network-id` and `reference-set-id` properties (0 when stopped)
 * are equal on instances that share.
 * |[
 * gst-launch-1.0 -m rtspsrc location=rtsp://door ! decodebin ! \
 *     siamesematch model=model.onnx gallery=staff.gallery ! fakesink \
 *   rtspsrc location=rtsp://yard ! decodebin ! \
 *     siamesematch model=model.onnx gallery=staff.gallery ! fakesink
 * ]| Two cameras, one network and one gallery in memory.
 *
 * ## Actions
 * Action signals change the reference set while frames flow (from any
 * thread; g_signal_emit_by_name()).  Each builds the changed set beside the
 * one in use and swaps it in between two frames, posts a
 * `siamesematch-gallery` message and returns TRUE; on failure it posts a
 * warning naming the cause, returns FALSE and changes nothing.  Changes
 * apply one after another.  They change the set in memory; `save` writes it.
 *
 * * gboolean `enroll` (gchararray label, gchararray image_path): embeds an
 *   image file as a template of the label (new or existing).
 * * gboolean `enroll-frame` (gchararray label, gint region_id): enrols the
 *   latest embedded frame, or with region_id >= 0 its region of interest of
 *   that id (as in the message's `region-id`); -1 for a whole frame.
 * * gboolean `remove` (gchararray label): removes every template of the
 *   label (the last label cannot be removed).
 * * gboolean `save` (gchararray path): writes the set as a gallery file,
 *   atomically; NULL or "" means the `gallery` property.
 * * gboolean `reload` (): rebuilds from the properties in the background
 *   (e.g. after the gallery file or folder changed on disk), so changes not
 *   saved are dropped; FALSE when the element is not started.
 *
 * A message named `siamesematch-gallery` announces each change: #gchararray
 * `action` (enroll, enroll-frame, remove, save or reload), #gchararray
 * `label` (the label concerned, or ""), #gchararray `path` (the image
 * enrolled, the file saved, the gallery reloaded, or ""), #guint `labels`
 * and #guint `templates` (the set's size now), #gchararray `fingerprint`
 * (the model's fingerprint).
 *
 * ## Results on the buffer
 * Unless upstream attached regions of interest (next section), every buffer
 * gets a #GstVideoRegionOfInterestMeta covering the whole frame,
 * with roi_type `siamesematch` and one parameter structure named
 * `siamesematch` holding the result fields listed below plus
 * `fresh` (boolean): TRUE when this frame was embedded, FALSE when it was
 * skipped by `interval` and carries the latest result again; and
 * `timestamp` (#GstClockTime): the presentation timestamp of the frame the
 * result was computed from (this buffer's own for a fresh result, except in
 * async mode; absent when that frame had none).
 *
 * ## Regions of interest
 * When a buffer arrives with region of interest metas from upstream (for
 * example a face or person detector) and `regions` is `auto` or `regions`,
 * each region, clipped to the frame, whose type `roi-types` lists (any type
 * when empty) and whose width and height reach `min-region-size`, is
 * embedded and matched instead of the whole frame, and its result is added
 * to that region's meta as the same `siamesematch` parameter structure; no
 * whole-frame meta is added.  Other regions (and those wholly outside the
 * frame) are left untagged.  When no region is accepted, `auto` embeds the
 * whole frame as usual, while `regions` gives the frame no result and posts
 * no message: with a face detector in front, a frame without a face is not
 * matched as a whole.  `frame` ignores upstream regions.  Frames skipped by
 * `interval` leave their regions untagged (regions move, so an older result
 * could name the wrong object).
 * |[
 * gst-launch-1.0 -m v4l2src ! videoconvert ! facedetect display=false ! \
 *     siamesematch model=faces.onnx reference=people/ regions=regions roi-types=face \
 *     min-region-size=40 ! fakesink
 * ]| Matches faces of at least 40 x 40 pixels, and nothing on frames without one.
 *
 * ## Async mode
 * By default the streaming thread waits for each frame's forward pass, so a
 * frame leaves the element with its own result, and a network slower than
 * the frame rate slows the pipeline down.  With `async=true` it does not
 * wait: each frame's targets (the whole frame, or its accepted regions) are
 * shrunk to the network's input size, copied, and handed to a worker thread
 * of the element's own, and the frame passes on at once.  Results come back
 * in frame order and ride on the next buffer that passes after they are
 * ready, as new region metas of type `siamesematch` at the rectangles they
 * were computed for (upstream region metas of the later buffer are left
 * alone), each with `timestamp` set to the presentation timestamp of its
 * own frame; the bus message, posted then, names that frame too
 * (`timestamp`, `stream-time`, `running-time`, `duration`, and for a region
 * `region-id` and its rectangle, all of the frame the result belongs to).
 * Confirmation over frames, `messages` and enroll-frame work on results in
 * frame order, as without async; `interval` still chooses the frames
 * embedded, but frames in between carry nothing.
 *
 * Latency: a result arrives on the first buffer after its forward pass
 * ends, so at least one frame after its own.  Up to `async-queue-size`
 * frames wait besides the one in the forward pass; when the network keeps
 * up, a result is one or two frames late; when it does not, a frame
 * arriving to a full queue drops the oldest waiting one (counted by
 * `async-dropped`, and never embedded: it gets no result and no message),
 * so a result is at most about `async-queue-size` + 1 forward passes old.
 * Frames handed over and not delivered yet are thus at most
 * `async-queue-size` + 2 (the waiting ones, the one in the forward pass,
 * one finished since the last buffer); each holds only its targets at the
 * network's input size (for the bundled model 28 x 28 bytes a target).
 * Buffers themselves are never delayed, and the element's latency as
 * reported to the pipeline is unchanged.
 *
 * A flushing seek drops the frames waiting and the result of the one in
 * the forward pass (those frames are gone).  At the end of the stream, and
 * before a new stream or segment starts, the element waits for the frames
 * handed over and posts their messages; no buffer follows to carry their
 * metadata, so the metadata of those last frames is lost.  Going to READY
 * or NULL drops the waiting frames and waits for the forward pass running
 * to end.
 * |[
 * gst-launch-1.0 -m v4l2src ! siamesematch model=model.onnx reference=faces/ async=true ! \
 *     autovideosink
 * ]| The picture never waits for the network; results name their frame.
 *
 * ## Quality of service
 * `qos` (GstBaseTransform's property) is FALSE by default, unlike most video
 * filters: every frame is embedded and gets its result even when the sink
 * reports it late, because a result missing without a trace is worse for
 * analytics than a late one (the sink still drops late frames from the
 * display).  Set qos=true to let the element skip frames the sink says are
 * too late to show (they then get no result and post no message), or use
 * `interval` to embed fewer frames.
 *
 * ## Element messages
 * A message named `siamesematch` is posted for each embedded frame (each
 * embedded region) allowed by the `messages` policy; frames skipped by
 * `interval` post none.  `on-change` compares the matched labels of the frame
 * (of all its regions, in order) with those last posted.  A flushing seek,
 * a new stream or a new segment starts afresh: the next frame is embedded
 * whatever `interval` says, and `on-change` compares only with what follows.
 * Fields:
 *
 * * #GstClockTime `timestamp`: the presentation timestamp of the frame
 *   embedded (the buffer's own, except in async mode).
 * * #GstClockTime `stream-time`: its stream time.
 * * #GstClockTime `running-time`: its running time (for synchronisation).
 * * #GstClockTime `duration`: that frame's duration.
 * * #gboolean `matched`: a label is declared.
 * * #gchararray `label`: the declared label, "" when the frame is unknown.
 * * #gchararray `reason`: why `label` is what it is: `matched`,
 *   `below-threshold` (the best score, or its normalised score, missed its
 *   threshold), `ambiguous` (the best label did not beat the second by the
 *   margin), `background` (the best label is the reserved background
 *   label, or the frame is too like the model's background) or
 *   `unconfirmed` (this frame's own decision differs from the label, which
 *   holds until enough frames agree).
 * * #gchararray `frame-label`: this frame's own decision ("" for unknown),
 *   before any confirmation over frames.
 * * #gchararray `best-label`: the best label whatever the threshold said.
 * * #gdouble `score`: the best label's score (cosine similarity; minus the
 *   distance for euclidean; the head's probability for learned).  A label's
 *   score is that of its best reference image.
 * * #gdouble `distance`: L2 distance between the normalised embeddings of the
 *   frame and that reference image, in [0, 2].
 * * #gdouble `normalised-score`: the best label's score normalised against
 *   the model's cohort; only when the model carries one.
 * * #gdouble `background-score`: the cosine of the model's background image
 *   nearest to the frame; only when the model carries a background.
 * * #gdouble `threshold`: the threshold in force (a distance for euclidean).
 * * #gdouble `normalised-threshold`: the normalised score's threshold in
 *   force, when there is one.
 * * #gchararray `metric`: cosine, euclidean or learned.
 * * #GstValueArray of #gchararray `top-labels`, of #gdouble `top-scores` and
 *   `top-distances` (and `top-normalised-scores` with a cohort): the top-k
 *   labels, best first.
 * * For a region only: #gint `region-id` (the meta's id), #gchararray
 *   `roi-type` (the meta's type) and #guint `x`, `y`, `width`, `height` (the
 *   region as upstream gave it).
 *
 * Applications can read both with siamese::match_from_structure()
 * (gst-plugin/match_structure.h).
 *
 * ## Errors
 * Problems are posted as error messages whose text names the file or value
 * at fault, never as a crash:
 *
 * * RESOURCE NOT_FOUND: no model or reference set, or the path does not exist.
 * * RESOURCE OPEN_READ: the model, reference or gallery path cannot be read
 *   (e.g. a folder given as model), or the gallery file is truncated,
 *   corrupted or not a gallery.  An undecodable reference image is only a
 *   warning (RESOURCE OPEN_READ naming it): it is skipped.
 * * RESOURCE OPEN_WRITE: the gallery file cannot be written.
 * * LIBRARY INIT: the model is not ONNX, OpenCV cannot import or run it, or
 *   it does not give one embedding vector per image.
 * * RESOURCE SETTINGS: the reference folder holds no usable image, metric
 *   learned with a model without pair head, unknown input size (set
 *   input-width and input-height), malformed mean or scale.
 * * STREAM FORMAT: embeddings and references of different lengths, or a
 *   gallery made by another model (both fingerprints are named).
 *
 * While the element runs, a failed action or reload posts the same domain
 * and code as a warning instead, and the reference set in use stays.
 * * STREAM FAILED: a frame could not be processed; the element then returns
 *   a flow error.
 */

// How it works, for maintainers.  start() builds a siamese::Recognizer (the
// network, the reference set from the folder and/or gallery, the search) with
// the GStreamer-free core in core/; a failure there becomes a bus error
// through post_error(), the one place mapping siamese::ErrorKind to GStreamer
// error domains.  The element runs in place: it never writes pixels, so it
// overrides GstVideoFilter's transform_ip to map frames read-only (a writable
// map of memory shared with another buffer, after a tee, would copy the frame)
// while GstBaseTransform, not being in passthrough, hands it a writable buffer
// to attach metadata to.  Each frame (or each upstream region, cropped) is
// wrapped without copying (frame_conversion.h), embedded in one batch
// (L2-normalised), matched against every reference embedding, and the results
// attached and maybe posted.  Property
// values live in Settings under the object lock and are copied at the start of
// each call; the Recognizer and per-stream bookkeeping live in State, built in
// start() without the lock, swapped in under it, and destroyed in stop().
// stop() and the streaming thread never run at the same time (pad
// deactivation waits for the streaming thread), but start() can: the sink
// pad is unflushed before start() is called, so a buffer or event pushed
// from upstream's own thread meanwhile finds no State yet (it takes the
// pointer under the lock and refuses the buffer as flushing).  Once it has
// the State the frame path uses it without a lock, except for the two fields
// other threads touch: the Recognizer pointer
// (each frame copies it under the lock; actions and the reload thread
// replace it under the lock with one built beside, see docs/gallery.md) and
// the latest frame's embeddings (for enroll-frame).  In async mode the
// forward pass and the search run on State::async's thread
// (core/async_worker.h) with a copy of the frame's model-sized targets and
// of the recognizer and decision settings of that moment; everything after
// (confirmation, message policy, metas, messages) stays on the streaming
// thread, which collects finished results at each buffer and at EOS and
// segment boundaries.

#include "gstsiamesematch.h"

#include <gst/video/gstvideometa.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <new>
#include <opencv2/core/utility.hpp>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "async_worker.h"
#include "confirmation.h"
#include "decision_settings.h"
#include "element_glue.h"
#include "errors.h"
#include "frame_conversion.h"
#include "gallery_file.h"
#include "match_structure.h"
#include "model_fingerprint.h"
#include "recognizer.h"
#include "report_filter.h"
#include "shared_recognizers.h"

GST_DEBUG_CATEGORY_STATIC(gst_siamese_match_debug);
#define GST_CAT_DEFAULT gst_siamese_match_debug

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS,
                            GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE(SIAMESE_VIDEO_FORMATS)));
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS,
                            GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE(SIAMESE_VIDEO_FORMATS)));

enum {
  PROP_0,
  PROP_MODEL,
  PROP_REFERENCE,
  PROP_METRIC,
  PROP_THRESHOLD,
  PROP_TOP_K,
  PROP_INTERVAL,
  PROP_MESSAGES,
  PROP_INPUT_WIDTH,
  PROP_INPUT_HEIGHT,
  PROP_COLOR_ORDER,
  PROP_MEAN,
  PROP_SCALE,
  PROP_THREADS,
  PROP_REGIONS,
  PROP_GALLERY,
  PROP_INDEX,
  PROP_SHARE,
  PROP_NETWORK_ID,
  PROP_REFERENCE_SET_ID,
  PROP_FALSE_ACCEPT_RATE,
  PROP_NORMALISE,
  PROP_NORMALISED_THRESHOLD,
  PROP_MARGIN,
  PROP_BACKGROUND_MARGIN,
  PROP_CONFIRM_FRAMES,
  PROP_ROI_TYPES,
  PROP_MIN_REGION_SIZE,
  PROP_ASYNC,
  PROP_ASYNC_QUEUE_SIZE,
  PROP_ASYNC_DROPPED,
  PROP_AGGREGATE,
};

enum {
  SIGNAL_ENROLL,
  SIGNAL_ENROLL_FRAME,
  SIGNAL_REMOVE,
  SIGNAL_SAVE,
  SIGNAL_RELOAD,
  LAST_SIGNAL,
};

// The colour-order property: the model's own, or an override.
enum GstSiameseMatchColorOrder {
  COLOR_ORDER_MODEL,
  COLOR_ORDER_GRAY,
  COLOR_ORDER_RGB,
  COLOR_ORDER_BGR,
};

// What a frame's results are about (the regions property).
enum GstSiameseMatchRegions {
  REGIONS_FRAME,    // the whole frame; upstream regions are left alone
  REGIONS_ONLY,     // the accepted upstream regions; a frame without any gets no result
  REGIONS_AUTO,     // the accepted upstream regions, else the whole frame
};

// threshold = -1: the model's calibrated threshold, else default_threshold().
#define THRESHOLD_UNSET -1.0
#define DEFAULT_METRIC siamese::Metric::kCosine
#define DEFAULT_TOP_K 3
#define DEFAULT_INTERVAL 1
#define DEFAULT_MESSAGES siamese::ReportPolicy::kEvery
#define DEFAULT_COLOR_ORDER COLOR_ORDER_MODEL
#define DEFAULT_THREADS 0
#define DEFAULT_REGIONS REGIONS_AUTO
#define DEFAULT_MIN_REGION_SIZE 0
#define DEFAULT_INDEX siamese::SearchIndex::kExact
#define DEFAULT_AGGREGATE siamese::decision_defaults::kAggregate
#define DEFAULT_SHARE TRUE
#define DEFAULT_ASYNC FALSE
// Two frames waiting besides the one in the forward pass: enough to ride
// out a frame that takes longer than the others, while a result is at
// most three forward passes old when it arrives.
#define DEFAULT_ASYNC_QUEUE_SIZE 2
#define MAX_ASYNC_QUEUE_SIZE 64
// Open-set decisions: -1 (margin) and -1000 (normalised-threshold,
// background-margin) leave the value to the model, else
// core/decision_defaults.h, where every default is.
#define MARGIN_UNSET -1.0
#define NORMALISED_THRESHOLD_UNSET -1000.0
#define BACKGROUND_MARGIN_UNSET -1000.0
#define DEFAULT_FALSE_ACCEPT_RATE siamese::decision_defaults::kFalseAcceptRate
#define DEFAULT_NORMALISE siamese::Normalisation::kAuto
#define DEFAULT_CONFIRM_FRAMES siamese::decision_defaults::kConfirmFrames
// The name of the element messages about the reference set (enrolments,
// removals, saves, reloads).
#define GALLERY_MESSAGE_NAME "siamesematch-gallery"

namespace {

struct Settings {
  std::string model;
  std::string reference;
  siamese::Metric metric = DEFAULT_METRIC;
  double threshold = THRESHOLD_UNSET;
  guint top_k = DEFAULT_TOP_K;
  guint interval = DEFAULT_INTERVAL;
  siamese::ReportPolicy messages = DEFAULT_MESSAGES;  // frames skipped by `interval` never post
  gint input_width = 0;   // 0: from the model
  gint input_height = 0;  // 0: from the model
  GstSiameseMatchColorOrder color_order = DEFAULT_COLOR_ORDER;
  std::string mean;                // "": from the model
  std::string scale;               // "": from the model
  gint threads = DEFAULT_THREADS;  // 0: leave OpenCV's setting alone
  GstSiameseMatchRegions regions = DEFAULT_REGIONS;
  std::vector<std::string> roi_types;  // accepted region types; empty: every type
  guint min_region_size = DEFAULT_MIN_REGION_SIZE;  // pixels, width and height
  std::string gallery;
  siamese::SearchIndex index = DEFAULT_INDEX;
  siamese::Aggregate aggregate = DEFAULT_AGGREGATE;
  gboolean share = DEFAULT_SHARE;
  gboolean async = DEFAULT_ASYNC;
  guint async_queue_size = DEFAULT_ASYNC_QUEUE_SIZE;
  double false_accept_rate = DEFAULT_FALSE_ACCEPT_RATE;
  siamese::Normalisation normalisation = DEFAULT_NORMALISE;
  double normalised_threshold = NORMALISED_THRESHOLD_UNSET;
  double margin = MARGIN_UNSET;
  double background_margin = BACKGROUND_MARGIN_UNSET;
  guint confirm_frames = DEFAULT_CONFIRM_FRAMES;
};

// The embeddings of the latest embedded frame, for enroll-frame.
struct EmbeddedFrame {
  cv::Mat embeddings;            // one row per target
  std::vector<gint> region_ids;  // per row: the region meta's id, -1 for the whole frame
  GstClockTime pts = GST_CLOCK_TIME_NONE;
  std::string fingerprint;       // of the model that embedded them
};

// When a frame was, in the stream: what its results carry.
struct FrameTimes {
  GstClockTime pts = GST_CLOCK_TIME_NONE;
  GstClockTime duration = GST_CLOCK_TIME_NONE;
  GstClockTime stream_time = GST_CLOCK_TIME_NONE;
  GstClockTime running_time = GST_CLOCK_TIME_NONE;
};

// An upstream region of interest a result is about, as upstream gave it.
struct RegionInfo {
  gint id = -1;
  GQuark type = 0;
  guint x = 0, y = 0, width = 0, height = 0;
};

// What the worker needs to embed and match a frame's targets, and what its
// results must carry once they come back (async mode).  Nothing in it points
// into the frame, which has gone downstream meanwhile.
struct AsyncFrame {
  std::shared_ptr<const siamese::Recognizer> recognizer;  // in force when the frame came
  siamese::MatcherSettings matcher;                       // likewise
  std::vector<cv::Mat> images;  // the targets at the model's input size, owned
  FrameTimes times;
  std::vector<cv::Rect> rects;                     // per target, in the frame
  std::vector<std::optional<RegionInfo>> regions;  // per target: its upstream region, if any
};

// A frame's results, computed by the worker.
struct AsyncResult {
  AsyncFrame frame;  // images dropped
  cv::Mat embeddings;
  std::vector<siamese::MatchResult> results;
};

using AsyncMatcher = siamese::AsyncWorker<AsyncFrame, AsyncResult>;

// The latest whole-frame result and the frame it was embedded from.
struct LatestResult {
  siamese::MatchResult result;
  GstClockTime pts = GST_CLOCK_TIME_NONE;
};

// One run (start() to stop()).
struct State {
  explicit State(std::shared_ptr<const siamese::Recognizer> recognizer_in)
      : recognizer(std::move(recognizer_in)) {}

  // Guarded by the object lock: replaced whole by reloads and edits, copied
  // by each frame, which then matches with its copy unlocked.
  std::shared_ptr<const siamese::Recognizer> recognizer;
  EmbeddedFrame latest_frame;

  // The streaming thread's alone: what belongs to the stream so far.
  guint64 frames = 0;                          // frames seen, for `interval`
  std::optional<LatestResult> latest;  // whole-frame result, re-attached to skipped frames
  siamese::ReportFilter messages;  // which results to post
  siamese::Confirmation confirmation;  // decisions over frames (confirm-frames)
  // Async mode only: the forward passes' thread; its results are taken by
  // the streaming thread.  Destroyed with the State (stop()), which joins it.
  std::unique_ptr<AsyncMatcher> async;

  // Forgets the stream so far (a flushing seek, a new stream or segment):
  // the next frame is embedded, results are compared only with those after
  // it, and confirmation starts over.  Per-stream state added above must be
  // reset here too.
  void reset_stream() {
    frames = 0;
    latest.reset();
    messages = siamese::ReportFilter();
    confirmation.reset();
  }
};

// The background reload: one thread at a time, and a request that arrives
// while it runs makes it run once more with the settings then in force.
struct Reloader {
  std::thread thread;      // joined by the next reload and by stop()
  bool running = false;    // guarded by the object lock
  bool requested = false;  // guarded by the object lock
};

}  // namespace

struct _GstSiameseMatch {
  GstVideoFilter parent;
  // C++ members, constructed in init() and destroyed in finalize().
  Settings settings;             // guarded by the object lock
  std::unique_ptr<State> state;  // swapped under the object lock
  // Held while an enrolment, removal, save or reload builds its new set, so
  // that changes apply one after the other and none is lost.  Never taken
  // under the object lock.
  std::mutex edits;
  Reloader reloader;
};

static guint gst_siamese_match_signals[LAST_SIGNAL] = {0};

G_DEFINE_TYPE(GstSiameseMatch, gst_siamese_match, GST_TYPE_VIDEO_FILTER)
GST_ELEMENT_REGISTER_DEFINE(siamesematch, "siamesematch", GST_RANK_NONE, GST_TYPE_SIAMESE_MATCH)

namespace {

using siamese::ObjectLock;
using siamese::register_enum_once;

Settings copy_settings(GstSiameseMatch *self) {
  const ObjectLock lock(self);
  return self->settings;
}

GType metric_get_type() {
  static GType type = 0;
  static const GEnumValue values[] = {
      {static_cast<gint>(siamese::Metric::kCosine), "Cosine similarity of the embeddings",
       "cosine"},
      {static_cast<gint>(siamese::Metric::kEuclidean), "L2 distance of the normalised embeddings",
       "euclidean"},
      {static_cast<gint>(siamese::Metric::kLearned),
       "Probability from the model's learned pair head", "learned"},
      {0, nullptr, nullptr},
  };
  return register_enum_once(type, "GstSiameseMatchMetric", values);
}

GType messages_get_type() {
  static GType type = 0;
  static const GEnumValue values[] = {
      {static_cast<gint>(siamese::ReportPolicy::kEvery), "For every embedded frame",
       "every-frame"},
      {static_cast<gint>(siamese::ReportPolicy::kOnChange),
       "When the matched label (or unknown) changes", "on-change"},
      {static_cast<gint>(siamese::ReportPolicy::kOnMatch),
       "For every embedded frame that matches a label", "on-match"},
      {static_cast<gint>(siamese::ReportPolicy::kNone), "Never (results only as buffer metadata)",
       "none"},
      {0, nullptr, nullptr},
  };
  return register_enum_once(type, "GstSiameseMatchMessages", values);
}

GType color_order_get_type() {
  static GType type = 0;
  static const GEnumValue values[] = {
      {COLOR_ORDER_MODEL, "As the model's metadata says (RGB without it)", "model"},
      {COLOR_ORDER_GRAY, "One grey channel", "gray"},
      {COLOR_ORDER_RGB, "Red, green, blue planes", "rgb"},
      {COLOR_ORDER_BGR, "Blue, green, red planes", "bgr"},
      {0, nullptr, nullptr},
  };
  return register_enum_once(type, "GstSiameseMatchColorOrder", values);
}

// "face, person" -> {"face", "person"}: the roi-types list, spaces and
// empty items dropped.
std::vector<std::string> split_list(const std::string &text) {
  std::vector<std::string> items;
  gchar **parts = g_strsplit(text.c_str(), ",", -1);
  for (gchar **part = parts; *part; ++part)
    if (*g_strstrip(*part)) items.emplace_back(*part);
  g_strfreev(parts);
  return items;
}

std::string join_list(const std::vector<std::string> &items) {
  std::string text;
  for (const std::string &item : items) text += (text.empty() ? "" : ",") + item;
  return text;
}

GType regions_get_type() {
  static GType type = 0;
  static const GEnumValue values[] = {
      {REGIONS_FRAME, "The whole frame, whatever regions upstream attached", "frame"},
      {REGIONS_ONLY, "Only the accepted regions of interest; frames without any get no result",
       "regions"},
      {REGIONS_AUTO, "The accepted regions of interest, or the whole frame when there is none",
       "auto"},
      {0, nullptr, nullptr},
  };
  return register_enum_once(type, "GstSiameseMatchRegions", values);
}

GType index_get_type() {
  static GType type = 0;
  static const GEnumValue values[] = {
      {static_cast<gint>(siamese::SearchIndex::kExact),
       "Exact brute force over every template (every metric)", "exact"},
      {static_cast<gint>(siamese::SearchIndex::kFaissFlat),
       "FAISS exact flat index (cosine, euclidean)", "faiss-flat"},
      {static_cast<gint>(siamese::SearchIndex::kFaissHnsw),
       "FAISS HNSW graph: approximate, fast on very large galleries (cosine, euclidean)",
       "faiss-hnsw"},
      {0, nullptr, nullptr},
  };
  return register_enum_once(type, "GstSiameseMatchIndex", values);
}

GType aggregate_get_type() {
  static GType type = 0;
  static const GEnumValue values[] = {
      {static_cast<gint>(siamese::Aggregate::kBest),
       "A label scores as its best reference image", "best"},
      {static_cast<gint>(siamese::Aggregate::kPrototype),
       "A label scores as the mean of its reference images' normalised embeddings, normalised",
       "prototype"},
      {0, nullptr, nullptr},
  };
  return register_enum_once(type, "GstSiameseMatchAggregate", values);
}

GType normalise_get_type() {
  static GType type = 0;
  static const GEnumValue values[] = {
      {static_cast<gint>(siamese::Normalisation::kAuto),
       "As the model recommends; without a recommendation, on when it carries a cohort", "auto"},
      {static_cast<gint>(siamese::Normalisation::kOn), "Normalise scores against the cohort",
       "on"},
      {static_cast<gint>(siamese::Normalisation::kOff), "Raw scores only", "off"},
      {0, nullptr, nullptr},
  };
  return register_enum_once(type, "GstSiameseMatchNormalise", values);
}

// The one mapping from the core's error kinds to bus error domains and codes
// (docs/errors.md), for errors and for warnings (`type`); `text` is the
// core's sentence naming the file or value.
void post_problem(GstSiameseMatch *self, GstMessageType type, siamese::ErrorKind kind,
                  const std::string &text, const char *function, int line) {
  GQuark domain = GST_RESOURCE_ERROR;
  gint code = GST_RESOURCE_ERROR_FAILED;
  switch (kind) {
    case siamese::ErrorKind::kNotFound: code = GST_RESOURCE_ERROR_NOT_FOUND; break;
    case siamese::ErrorKind::kOpenRead: code = GST_RESOURCE_ERROR_OPEN_READ; break;
    case siamese::ErrorKind::kSettings: code = GST_RESOURCE_ERROR_SETTINGS; break;
    case siamese::ErrorKind::kModel:
      domain = GST_LIBRARY_ERROR;
      code = GST_LIBRARY_ERROR_INIT;
      break;
    case siamese::ErrorKind::kFormat:
      domain = GST_STREAM_ERROR;
      code = GST_STREAM_ERROR_FORMAT;
      break;
    case siamese::ErrorKind::kFrame:
      domain = GST_STREAM_ERROR;
      code = GST_STREAM_ERROR_FAILED;
      break;
    case siamese::ErrorKind::kWrite: code = GST_RESOURCE_ERROR_OPEN_WRITE; break;
  }
  gst_element_message_full(GST_ELEMENT(self), type, domain, code, g_strdup(text.c_str()), nullptr,
                           __FILE__, function, line);
}

void post_error(GstSiameseMatch *self, siamese::ErrorKind kind, const std::string &text,
                const char *function, int line) {
  post_problem(self, GST_MESSAGE_ERROR, kind, text, function, line);
}

// The kind and text of the exception being handled (call it in a catch
// block): siamese::Error says its kind, anything else gets `other_kind`.
std::pair<siamese::ErrorKind, std::string> current_error(siamese::ErrorKind other_kind) {
  try {
    throw;
  } catch (const siamese::Error &error) {
    return {error.kind(), error.what()};
  } catch (const std::exception &error) {
    return {other_kind, error.what()};
  } catch (...) {
    return {other_kind, "An unknown error occurred."};
  }
}

// Turns the preprocessing properties into the core's overrides; a malformed
// mean or scale is a settings error naming the property.
siamese::ContractOverrides overrides_from(const Settings &settings) {
  siamese::ContractOverrides overrides;
  if (settings.input_width > 0) overrides.width = settings.input_width;
  if (settings.input_height > 0) overrides.height = settings.input_height;
  switch (settings.color_order) {
    case COLOR_ORDER_MODEL: break;
    case COLOR_ORDER_GRAY: overrides.color = siamese::ColorOrder::kGray; break;
    case COLOR_ORDER_RGB: overrides.color = siamese::ColorOrder::kRgb; break;
    case COLOR_ORDER_BGR: overrides.color = siamese::ColorOrder::kBgr; break;
  }
  try {
    if (!settings.mean.empty()) overrides.mean = siamese::parse_triple(settings.mean, "mean");
    if (!settings.scale.empty()) overrides.scale = siamese::parse_triple(settings.scale, "scale");
  } catch (const std::invalid_argument &error) {
    throw siamese::Error(siamese::ErrorKind::kSettings,
                         std::string("Invalid property value: ") + error.what() + ".");
  }
  return overrides;
}

// The decision settings the properties ask for; unset ones are left to
// the model and the defaults (core/decision_settings.h).
siamese::DecisionRequest decision_request(const Settings &settings) {
  siamese::DecisionRequest request;
  request.metric = settings.metric;
  request.normalisation = settings.normalisation;
  request.false_accept_rate = settings.false_accept_rate;
  if (settings.threshold != THRESHOLD_UNSET) request.threshold = settings.threshold;
  if (settings.normalised_threshold != NORMALISED_THRESHOLD_UNSET)
    request.normalised_threshold = settings.normalised_threshold;
  if (settings.margin != MARGIN_UNSET) request.margin = settings.margin;
  if (settings.background_margin != BACKGROUND_MARGIN_UNSET)
    request.background_margin = settings.background_margin;
  return request;
}

// The matcher's settings for the current property values: the search part
// and the normalisation are fixed when the Recognizer is built (a frame
// decides as it normalises), the decision part is read per frame.
siamese::MatcherSettings matcher_settings_from(const Settings &settings,
                                               const siamese::Recognizer &recognizer) {
  siamese::DecisionRequest request = decision_request(settings);
  request.normalisation = recognizer.matcher().settings().normalise ? siamese::Normalisation::kOn
                                                                    : siamese::Normalisation::kOff;
  siamese::MatcherSettings matcher_settings =
      siamese::resolve_decision(request, recognizer.model().contract());
  matcher_settings.top_k = static_cast<int>(settings.top_k);
  return matcher_settings;
}

// What the properties ask to be built (the search part of the matcher
// settings included; the decision part is read per frame).
siamese::RecognizerSpec spec_from(const Settings &settings) {
  siamese::RecognizerSpec spec;
  spec.model = settings.model;
  spec.overrides = overrides_from(settings);
  spec.reference = settings.reference;
  spec.gallery = settings.gallery;
  spec.matcher.metric = settings.metric;
  spec.matcher.index = settings.index;
  spec.matcher.aggregate = settings.aggregate;
  spec.normalisation = settings.normalisation;
  return spec;
}

// Builds what the settings describe (model, reference set, search); the
// caller posts the warnings for skipped images once no lock is held.
std::shared_ptr<const siamese::Recognizer> build_recognizer(GstSiameseMatch *self,
                                                            const Settings &settings,
                                                            siamese::Recognizer::Report &report) {
  if (settings.threads > 0) cv::setNumThreads(settings.threads);
  auto recognizer = settings.share
                        ? siamese::shared_recognizer(spec_from(settings), &report)
                        : siamese::Recognizer::build(spec_from(settings), nullptr, &report);
  const siamese::ReferenceSet &references = recognizer->references();
  GST_INFO_OBJECT(self, "%d reference images, %zu labels, %s, %s index, %s aggregate, model %s",
                  references.embeddings().rows, references.labels().size(),
                  siamese::to_string(settings.metric), siamese::to_string(settings.index),
                  siamese::to_string(settings.aggregate),
                  siamese::short_fingerprint(recognizer->model().fingerprint()).c_str());
  const siamese::MatcherSettings decision = matcher_settings_from(settings, *recognizer);
  GST_INFO_OBJECT(self, "threshold %g, %s (normalised threshold %g), margin %g, background margin %s",
                  decision.threshold,
                  !decision.normalise                                 ? "not normalised"
                  : decision.cohort_sides == siamese::CohortSides::kQuery ? "normalised (frame side)"
                                                                        : "normalised (both sides)",
                  decision.normalised_threshold, decision.margin,
                  decision.background_margin ? std::to_string(*decision.background_margin).c_str()
                                             : "none");
  return recognizer;
}

void warn_skipped(GstSiameseMatch *self, const siamese::Recognizer::Report &report) {
  for (const std::string &skipped : report.skipped)
    GST_ELEMENT_WARNING(self, RESOURCE, OPEN_READ,
                        ("Skipped the reference image %s.", skipped.c_str()), (nullptr));
  for (const std::string &folder : report.empty_labels)
    GST_ELEMENT_WARNING(self, RESOURCE, OPEN_READ,
                        ("The label folder %s holds no usable image: its label is not in the "
                         "reference set.", folder.c_str()), (nullptr));
}

// Maps a buffer read-only for the lifetime of the object.
class MappedFrame {
 public:
  MappedFrame(const GstVideoInfo *info, GstBuffer *buffer) {
    if (!gst_video_frame_map(&frame_, const_cast<GstVideoInfo *>(info), buffer, GST_MAP_READ))
      throw siamese::Error(siamese::ErrorKind::kFrame, "A video buffer could not be mapped.");
  }
  ~MappedFrame() { gst_video_frame_unmap(&frame_); }
  MappedFrame(const MappedFrame &) = delete;
  MappedFrame &operator=(const MappedFrame &) = delete;
  const GstVideoFrame &frame() const { return frame_; }

 private:
  GstVideoFrame frame_;
};

// A part of the frame to embed: the whole frame (no meta yet) or a region
// of interest an upstream element attached.
struct Target {
  cv::Rect rect;
  GstVideoRegionOfInterestMeta *region = nullptr;
};

// Whether `settings` accept an upstream region of this type and clipped size.
bool region_accepted(const Settings &settings, GQuark type, const cv::Rect &rect) {
  const auto size = static_cast<int>(std::min<guint>(settings.min_region_size, G_MAXINT));
  if (rect.width < size || rect.height < size) return false;
  return settings.roi_types.empty() ||
         std::find(settings.roi_types.begin(), settings.roi_types.end(),
                   g_quark_to_string(type)) != settings.roi_types.end();
}

// The upstream regions of interest (our own metas excluded) that `settings`
// accept, clipped to the frame; regions wholly outside it, or not accepted,
// are left untagged.
std::vector<Target> upstream_regions(GstBuffer *buffer, const GstVideoInfo &info,
                                     const Settings &settings) {
  const GQuark own_type = g_quark_from_static_string(siamese::kMatchStructureName);
  const cv::Rect frame(0, 0, GST_VIDEO_INFO_WIDTH(&info), GST_VIDEO_INFO_HEIGHT(&info));
  std::vector<Target> targets;
  gpointer iterator = nullptr;
  while (GstMeta *meta = gst_buffer_iterate_meta_filtered(
             buffer, &iterator, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE)) {
    auto *region = reinterpret_cast<GstVideoRegionOfInterestMeta *>(meta);
    if (region->roi_type == own_type) continue;
    const auto clip = [](guint value, int limit) {
      return static_cast<int>(std::min<guint>(value, limit));
    };
    const int x = clip(region->x, frame.width), y = clip(region->y, frame.height);
    const cv::Rect rect(x, y, clip(region->w, frame.width - x), clip(region->h, frame.height - y));
    if (!rect.empty() && region_accepted(settings, region->roi_type, rect))
      targets.push_back({rect, region});
  }
  return targets;
}

// What the frame's results are about, as the regions mode says: the accepted
// upstream regions, or the whole frame; none in regions mode when no region
// is accepted (the frame then gets no result and posts nothing).
std::vector<Target> frame_targets(GstBuffer *buffer, const GstVideoInfo &info,
                                  const Settings &settings) {
  std::vector<Target> targets;
  if (settings.regions != REGIONS_FRAME) targets = upstream_regions(buffer, info, settings);
  if (targets.empty() && settings.regions != REGIONS_ONLY)
    targets.push_back({cv::Rect(0, 0, GST_VIDEO_INFO_WIDTH(&info), GST_VIDEO_INFO_HEIGHT(&info))});
  return targets;
}

// Embeds every target of the frame in one batch and matches them with the
// decision settings in force now; `embeddings` receives one row per target.
std::vector<siamese::MatchResult> match_targets(const siamese::Recognizer &recognizer,
                                                const Settings &settings,
                                                const GstVideoFrame &frame,
                                                const std::vector<Target> &targets,
                                                cv::Mat &embeddings) {
  const siamese::ModelContract &contract = recognizer.model().contract();
  const siamese::Preprocessing &input = contract.input;
  std::vector<cv::Mat> images;
  for (const Target &target : targets)
    images.push_back(siamese::frame_to_embedder_input(
        frame, target.rect, cv::Size(input.width, input.height), input.color));
  embeddings = recognizer.model().embed(images);
  return recognizer.matcher().match(embeddings, matcher_settings_from(settings, recognizer));
}

// Adds the result as a parameter of `region` (an upstream region meta), or
// of a new siamesematch meta covering `rect` when there is none.
void attach_result(GstBuffer *buffer, GstVideoRegionOfInterestMeta *region, const cv::Rect &rect,
                   const siamese::RegionResult &result) {
  if (!region)
    region = gst_buffer_add_video_region_of_interest_meta(
        buffer, siamese::kMatchStructureName, rect.x, rect.y, rect.width, rect.height);
  siamese::add_region_result(region, result);
}

FrameTimes frame_times(GstSiameseMatch *self, GstBuffer *buffer) {
  const GstSegment &segment = GST_BASE_TRANSFORM(self)->segment;
  FrameTimes times;
  times.pts = GST_BUFFER_PTS(buffer);
  times.duration = GST_BUFFER_DURATION(buffer);
  // Stream and running time need a TIME segment: a restarted element can see
  // frames before upstream sends one again (pad deactivation dropped it).
  if (segment.format == GST_FORMAT_TIME) {
    times.stream_time = gst_segment_to_stream_time(&segment, GST_FORMAT_TIME, times.pts);
    times.running_time = gst_segment_to_running_time(&segment, GST_FORMAT_TIME, times.pts);
  }
  return times;
}

std::optional<RegionInfo> region_info(const Target &target) {
  if (!target.region) return std::nullopt;
  const GstVideoRegionOfInterestMeta &meta = *target.region;
  return RegionInfo{meta.id, meta.roi_type, meta.x, meta.y, meta.w, meta.h};
}

GstMessage *result_message(GstSiameseMatch *self, const FrameTimes &times,
                           const std::optional<RegionInfo> &region,
                           const siamese::MatchResult &result) {
  GstStructure *structure = siamese::match_to_structure(result);
  gst_structure_set(structure, "timestamp", G_TYPE_UINT64, times.pts, "stream-time",
                    G_TYPE_UINT64, times.stream_time, "running-time", G_TYPE_UINT64,
                    times.running_time, "duration", G_TYPE_UINT64, times.duration, nullptr);
  if (region)
    gst_structure_set(structure, "region-id", G_TYPE_INT, region->id, "roi-type", G_TYPE_STRING,
                      g_quark_to_string(region->type), "x", G_TYPE_UINT, region->x, "y",
                      G_TYPE_UINT, region->y, "width", G_TYPE_UINT, region->width, "height",
                      G_TYPE_UINT, region->height, nullptr);
  return gst_message_new_element(GST_OBJECT(self), structure);
}

std::vector<cv::Rect> target_rects(const std::vector<Target> &targets) {
  std::vector<cv::Rect> rects;
  for (const Target &target : targets) rects.push_back(target.rect);
  return rects;
}

// What follows a frame's matching in both modes, in frame order on the
// streaming thread: each target's label is declared only once
// `confirm-frames` frames agree (core/confirmation.h; results keep this
// frame's own decision as frame_label); the embeddings are kept for
// enroll-frame; returns the messages of the results the `messages` policy
// posts.
std::vector<GstMessage *> conclude_frame(GstSiameseMatch *self, State &state,
                                         const Settings &settings,
                                         const siamese::Recognizer &recognizer,
                                         const FrameTimes &times,
                                         const std::vector<cv::Rect> &rects,
                                         const std::vector<std::optional<RegionInfo>> &regions,
                                         cv::Mat embeddings,
                                         std::vector<siamese::MatchResult> &results) {
  state.confirmation.apply(static_cast<int>(settings.confirm_frames), rects, results);
  EmbeddedFrame embedded;
  embedded.embeddings = std::move(embeddings);
  embedded.pts = times.pts;
  embedded.fingerprint = recognizer.model().fingerprint();
  for (const auto &region : regions) embedded.region_ids.push_back(region ? region->id : -1);
  {
    const ObjectLock lock(self);
    state.latest_frame = std::move(embedded);
  }
  std::vector<GstMessage *> messages;
  for (const std::size_t i : state.messages.select(settings.messages, results))
    messages.push_back(result_message(self, times, regions[i], results[i]));
  return messages;
}

// Processes one buffer with `recognizer` in the default (synchronous) mode;
// returns the messages to post once no lock is held.
std::vector<GstMessage *> process_buffer(GstSiameseMatch *self, State &state,
                                         const siamese::Recognizer &recognizer,
                                         const Settings &settings, GstBuffer *buffer,
                                         const GstVideoInfo &info) {
  const bool fresh = state.frames++ % settings.interval == 0;
  const std::vector<Target> targets = frame_targets(buffer, info, settings);
  if (targets.empty()) return {};
  const bool whole_frame = !targets.front().region;

  if (!fresh) {
    // Regions move between frames, so only a whole-frame result is re-attached.
    if (whole_frame && state.latest)
      attach_result(buffer, nullptr, targets.front().rect,
                    {state.latest->result, false, state.latest->pts});
    return {};
  }
  cv::Mat embeddings;
  std::vector<siamese::MatchResult> results = match_targets(
      recognizer, settings, MappedFrame(&info, buffer).frame(), targets, embeddings);
  const FrameTimes times = frame_times(self, buffer);
  std::vector<std::optional<RegionInfo>> regions;
  for (const Target &target : targets) regions.push_back(region_info(target));
  std::vector<GstMessage *> messages =
      conclude_frame(self, state, settings, recognizer, times, target_rects(targets), regions,
                     std::move(embeddings), results);
  state.latest.reset();
  if (whole_frame) state.latest = LatestResult{results.front(), times.pts};
  for (std::size_t i = 0; i < targets.size(); ++i)
    attach_result(buffer, targets[i].region, targets[i].rect, {results[i], true, times.pts});
  return messages;
}

// The async mode's work, on the worker thread: the forward pass and the
// search, nothing that touches the element.
AsyncResult embed_and_match(AsyncFrame &frame) {
  AsyncResult done;
  done.embeddings = frame.recognizer->model().embed(frame.images);
  done.results = frame.recognizer->matcher().match(done.embeddings, frame.matcher);
  frame.images.clear();
  done.frame = std::move(frame);
  return done;
}

// Takes the results the worker finished since the last call, in frame
// order, concludes them (confirmation, enroll-frame, message policy) and
// attaches them to `buffer` (when there is one: not at the end of the
// stream) as new siamesematch metas at their frame's target rectangles,
// `timestamp` naming their frame.  Returns the messages to post; rethrows
// the error of a frame the worker failed on.
std::vector<GstMessage *> deliver_async(GstSiameseMatch *self, State &state,
                                        const Settings &settings, GstBuffer *buffer) {
  std::vector<AsyncMatcher::Finished> finished = state.async->take_finished();
  for (const AsyncMatcher::Finished &one : finished)
    if (one.error) std::rethrow_exception(one.error);
  std::vector<GstMessage *> messages;
  for (AsyncMatcher::Finished &one : finished) {
    AsyncResult &done = *one.result;
    const AsyncFrame &frame = done.frame;
    for (GstMessage *message :
         conclude_frame(self, state, settings, *frame.recognizer, frame.times, frame.rects,
                        frame.regions, done.embeddings, done.results))
      messages.push_back(message);
    if (buffer)
      for (std::size_t i = 0; i < done.results.size(); ++i)
        attach_result(buffer, nullptr, frame.rects[i], {done.results[i], true, frame.times.pts});
  }
  return messages;
}

// Processes one buffer in async mode: attaches the results finished
// meanwhile, then hands this frame's targets, shrunk to the model's input
// size, to the worker without waiting for it.
std::vector<GstMessage *> process_buffer_async(GstSiameseMatch *self, State &state,
                                               std::shared_ptr<const siamese::Recognizer> recognizer,
                                               const Settings &settings, GstBuffer *buffer,
                                               const GstVideoInfo &info) {
  std::vector<GstMessage *> messages = deliver_async(self, state, settings, buffer);
  const bool fresh = state.frames++ % settings.interval == 0;
  // Our own metas just attached are not regions to embed (upstream_regions).
  const std::vector<Target> targets = fresh ? frame_targets(buffer, info, settings)
                                            : std::vector<Target>();
  if (targets.empty()) return messages;
  AsyncFrame frame;
  try {
    const siamese::Preprocessing &input = recognizer->model().contract().input;
    const cv::Size size(input.width, input.height);
    const MappedFrame mapped(&info, buffer);
    for (const Target &target : targets) {
      frame.images.push_back(siamese::detached_input(
          siamese::frame_to_embedder_input(mapped.frame(), target.rect, size, input.color),
          size));
      frame.rects.push_back(target.rect);
      frame.regions.push_back(region_info(target));
    }
  } catch (...) {
    for (GstMessage *message : messages) gst_message_unref(message);
    throw;
  }
  frame.matcher = matcher_settings_from(settings, *recognizer);
  frame.times = frame_times(self, buffer);
  frame.recognizer = std::move(recognizer);
  if (state.async->submit(std::move(frame)))
    GST_DEBUG_OBJECT(self, "async queue full: the oldest waiting frame was dropped");
  return messages;
}

// Async mode at the end of the stream, or before a new stream or segment:
// waits for the frames handed over and posts their messages (no buffer
// follows to carry their metadata).  A failed frame is posted as an error.
void finish_async(GstSiameseMatch *self, State *current) {
  if (!current || !current->async) return;
  State &state = *current;
  state.async->drain();
  std::vector<GstMessage *> messages;
  try {
    messages = deliver_async(self, state, copy_settings(self), nullptr);
  } catch (...) {
    post_error(self, siamese::ErrorKind::kFrame,
               current_error(siamese::ErrorKind::kFrame).second, GST_FUNCTION, __LINE__);
  }
  for (GstMessage *message : messages) gst_element_post_message(GST_ELEMENT(self), message);
}

// The recognizer frames use now, or nullptr when the element is not started.
std::shared_ptr<const siamese::Recognizer> current_recognizer(GstSiameseMatch *self) {
  const ObjectLock lock(self);
  return self->state ? self->state->recognizer : nullptr;
}

// Replaces the recognizer when the element still runs; returns whether it did.
// The one replaced is released after the lock (its destruction may be heavy).
bool swap_recognizer(GstSiameseMatch *self, std::shared_ptr<const siamese::Recognizer> &next) {
  const ObjectLock lock(self);
  if (!self->state) return false;
  self->state->recognizer.swap(next);
  return true;
}

// The siamesematch-gallery message announcing a change of the reference set.
GstMessage *gallery_message(GstSiameseMatch *self, const char *action,
                            const siamese::Recognizer &recognizer, const std::string &label = "",
                            const std::string &path = "") {
  const siamese::ReferenceSet &references = recognizer.references();
  GstStructure *structure = gst_structure_new(
      GALLERY_MESSAGE_NAME, "action", G_TYPE_STRING, action, "label", G_TYPE_STRING,
      label.c_str(), "path", G_TYPE_STRING, path.c_str(), "labels", G_TYPE_UINT,
      static_cast<guint>(references.labels().size()), "templates", G_TYPE_UINT,
      static_cast<guint>(references.embeddings().rows), "fingerprint", G_TYPE_STRING,
      recognizer.model().fingerprint().c_str(), nullptr);
  return gst_message_new_element(GST_OBJECT(self), structure);
}

// Posts the exception being handled as a warning: the action failed and
// nothing changed.
void warn_failed(GstSiameseMatch *self, const char *action, const char *function, int line) {
  const auto [kind, text] = current_error(siamese::ErrorKind::kSettings);
  post_problem(self, GST_MESSAGE_WARNING, kind,
               std::string(action) + " failed, the reference set is unchanged: " + text, function,
               line);
}

const std::string &not_started_text() {
  static const std::string text =
      "The element is not started: the reference set exists from READY to PAUSED on.";
  return text;
}

// Runs `edit` (which may throw) on a copy of the current reference set and
// swaps the result in, announced by a siamesematch-gallery message; on
// failure the set is unchanged and a warning says why.  Edits run one at a
// time; the embedding they may need runs without the object lock.
template <typename Edit>
gboolean edit_references(GstSiameseMatch *self, const char *action, const std::string &label,
                         const std::string &path, Edit edit) {
  GstMessage *message = nullptr;
  try {
    const std::lock_guard<std::mutex> edits(self->edits);
    const auto current = current_recognizer(self);
    if (!current) throw siamese::Error(siamese::ErrorKind::kSettings, not_started_text());
    siamese::ReferenceSet references = current->references();
    edit(*current, references);
    std::shared_ptr<const siamese::Recognizer> next =
        current->with_references(std::move(references));
    message = gallery_message(self, action, *next, label, path);
    if (!swap_recognizer(self, next))
      throw siamese::Error(siamese::ErrorKind::kSettings, not_started_text());
  } catch (...) {
    if (message) gst_message_unref(message);
    warn_failed(self, action, GST_FUNCTION, __LINE__);
    return FALSE;
  }
  gst_element_post_message(GST_ELEMENT(self), message);
  return TRUE;
}

// "frame at 0:00:01.200000000, region 3": a frame template's source.
std::string frame_source(const EmbeddedFrame &frame, gint region_id) {
  gchar *time = g_strdup_printf("%" GST_TIME_FORMAT, GST_TIME_ARGS(frame.pts));
  std::string text = std::string("frame at ") + time;
  g_free(time);
  if (region_id >= 0) text += ", region " + std::to_string(region_id);
  return text;
}

// The row of the latest embedded frame to enrol for `region_id` (-1: the
// whole frame); throws kSettings saying what is there instead.
int frame_row(const EmbeddedFrame &frame, const siamese::Recognizer &recognizer, gint region_id) {
  if (frame.embeddings.empty())
    throw siamese::Error(siamese::ErrorKind::kSettings,
                         "No frame has been embedded yet: enroll-frame enrols the latest "
                         "embedded frame.");
  if (frame.fingerprint != recognizer.model().fingerprint())
    throw siamese::Error(siamese::ErrorKind::kSettings,
                         "The latest frame was embedded by the previous model: enrol one "
                         "embedded by the current model.");
  std::string present;
  for (std::size_t i = 0; i < frame.region_ids.size(); ++i) {
    if (frame.region_ids[i] == region_id) return static_cast<int>(i);
    present += (present.empty() ? "" : ", ") + std::to_string(frame.region_ids[i]);
  }
  throw siamese::Error(
      siamese::ErrorKind::kSettings,
      region_id < 0 ? "The latest frame was matched by regions (ids " + present +
                          "): give the id of the region to enrol."
                    : "The latest frame has no region with id " + std::to_string(region_id) +
                          (frame.region_ids.front() < 0 ? " (it was matched whole: give -1)."
                                                        : " (its regions: " + present + ")."));
}

void join_reloads(GstSiameseMatch *self);

// The background reload (see Reloader): builds from the settings then in
// force, beside the set in use, and swaps when ready; a failure keeps the
// set in use and posts a warning.
void run_reloads(GstSiameseMatch *self) {
  for (;;) {
    Settings settings;
    {
      const ObjectLock lock(self);
      if (!self->reloader.requested || !self->state) {
        self->reloader.running = false;
        return;
      }
      self->reloader.requested = false;
      settings = self->settings;
    }
    siamese::Recognizer::Report report;
    GstMessage *message = nullptr;
    bool swapped = false;
    try {
      const std::lock_guard<std::mutex> edits(self->edits);
      std::shared_ptr<const siamese::Recognizer> next = build_recognizer(self, settings, report);
      message = gallery_message(self, "reload", *next, "", settings.gallery);
      swapped = swap_recognizer(self, next);
    } catch (...) {
      // Posted with no lock held, as everything below.
      const auto [kind, text] = current_error(siamese::ErrorKind::kModel);
      post_problem(self, GST_MESSAGE_WARNING, kind,
                   "The reload failed, the previous reference set stays in use: " + text,
                   GST_FUNCTION, __LINE__);
      continue;
    }
    if (swapped) {
      warn_skipped(self, report);
      gst_element_post_message(GST_ELEMENT(self), message);
    } else {
      gst_message_unref(message);
    }
  }
}

// Asks for a reload; returns FALSE when the element is not started (the
// next start builds from the new settings anyway).
gboolean request_reload(GstSiameseMatch *self) {
  std::thread finished;
  {
    const ObjectLock lock(self);
    if (!self->state) return FALSE;
    self->reloader.requested = true;
    if (self->reloader.running) return TRUE;
    self->reloader.running = true;
    finished = std::move(self->reloader.thread);
    self->reloader.thread = std::thread(run_reloads, self);
  }
  if (finished.joinable()) finished.join();  // a previous run, already done
  return TRUE;
}

// Waits for the reload thread (stop(), finalize()).  A reload that ends the
// pipeline from its own thread (an application stopping it on a warning)
// cannot wait for itself: it is detached and finds no State to swap into.
void join_reloads(GstSiameseMatch *self) {
  std::thread thread;
  {
    const ObjectLock lock(self);
    thread = std::move(self->reloader.thread);
  }
  if (!thread.joinable()) return;
  if (thread.get_id() == std::this_thread::get_id())
    thread.detach();
  else
    thread.join();
}

// Properties that describe what is built: set while started, they reload.
bool rebuilds(guint prop_id) {
  switch (prop_id) {
    case PROP_MODEL:
    case PROP_REFERENCE:
    case PROP_GALLERY:
    case PROP_METRIC:
    case PROP_INDEX:
    case PROP_AGGREGATE:
    case PROP_SHARE:
    case PROP_INPUT_WIDTH:
    case PROP_INPUT_HEIGHT:
    case PROP_COLOR_ORDER:
    case PROP_MEAN:
    case PROP_SCALE:
    case PROP_NORMALISE: return true;
    default: return false;
  }
}

gboolean on_enroll(GstSiameseMatch *self, const gchar *label, const gchar *path) {
  const std::string name = label ? label : "", file = path ? path : "";
  return edit_references(self, "enroll", name, file,
                         [&](const siamese::Recognizer &current, siamese::ReferenceSet &references) {
                           current.model().with_embedder([&](siamese::Embedder &embedder) {
                             references.add_image(name, file, embedder);
                           });
                         });
}

gboolean on_enroll_frame(GstSiameseMatch *self, const gchar *label, gint region_id) {
  const std::string name = label ? label : "";
  EmbeddedFrame frame;
  {
    const ObjectLock lock(self);
    if (self->state) frame = self->state->latest_frame;  // the rows are never written again
  }
  return edit_references(
      self, "enroll-frame", name, "",
      [&](const siamese::Recognizer &current, siamese::ReferenceSet &references) {
        const int row = frame_row(frame, current, region_id);
        references.add(name, frame.embeddings.row(row),
                       {frame_source(frame, region_id), "", siamese::utc_now()});
      });
}

gboolean on_remove(GstSiameseMatch *self, const gchar *label) {
  const std::string name = label ? label : "";
  return edit_references(self, "remove", name, "",
                         [&](const siamese::Recognizer &, siamese::ReferenceSet &references) {
                           if (references.remove_label(name) == 0)
                             throw siamese::Error(siamese::ErrorKind::kSettings,
                                                  "There is no label \"" + name + "\" to remove.");
                           if (references.empty())
                             throw siamese::Error(siamese::ErrorKind::kSettings,
                                                  "\"" + name + "\" is the last label: the "
                                                  "reference set cannot be empty.");
                         });
}

gboolean on_save(GstSiameseMatch *self, const gchar *path) {
  std::string file = path ? path : "";
  GstMessage *message = nullptr;
  try {
    const std::lock_guard<std::mutex> edits(self->edits);
    if (file.empty()) file = copy_settings(self).gallery;
    if (file.empty())
      throw siamese::Error(siamese::ErrorKind::kSettings,
                           "No file to save to: give a path or set the gallery property.");
    const auto current = current_recognizer(self);
    if (!current) throw siamese::Error(siamese::ErrorKind::kSettings, not_started_text());
    siamese::save_gallery(file, current->gallery());
    message = gallery_message(self, "save", *current, "", file);
  } catch (...) {
    warn_failed(self, "save", GST_FUNCTION, __LINE__);
    return FALSE;
  }
  gst_element_post_message(GST_ELEMENT(self), message);
  return TRUE;
}

gboolean on_reload(GstSiameseMatch *self) { return request_reload(self); }

// Many cameras, one network: `share` and the ids telling which instances share.
void install_sharing_properties(GObjectClass *gobject_class, GParamFlags playing_flags) {
  g_object_class_install_property(
      gobject_class, PROP_SHARE,
      g_param_spec_boolean("share", "Share",
                           "Share the loaded network (and the reference set, when built from "
                           "the same files with the same metric and index) with the other "
                           "instances of the process using the same model file; FALSE loads a "
                           "copy of this instance's own",
                           DEFAULT_SHARE, playing_flags));
  constexpr auto kReadOnly = static_cast<GParamFlags>(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_property(
      gobject_class, PROP_NETWORK_ID,
      g_param_spec_uint64("network-id", "Network id",
                          "The loaded network this instance uses, unique in the process: "
                          "instances showing the same id share it (0 when stopped)",
                          0, G_MAXUINT64, 0, kReadOnly));
  g_object_class_install_property(
      gobject_class, PROP_REFERENCE_SET_ID,
      g_param_spec_uint64("reference-set-id", "Reference set id",
                          "The reference set (and its search) this instance matches with, "
                          "unique in the process: instances showing the same id share it; an "
                          "action or reload gives a new one (0 when stopped)",
                          0, G_MAXUINT64, 0, kReadOnly));
}

// "%g" of `value`.
std::string format_number(double value) {
  char text[32];
  g_snprintf(text, sizeof text, "%g", value);
  return text;
}

// The open-set decisions (the doc block's "Open-set decisions"); the
// defaults are core/decision_defaults.h's.
void install_open_set_properties(GObjectClass *gobject_class, GParamFlags playing_flags) {
  // The blurbs name the defaults from where they are kept; built once, they
  // live as long as the class (the flags say the strings are static).
  static const std::string normalised_blurb =
      "With normalisation, the normalised score (in spreads of the cohort's scores) must reach "
      "this as well as the raw score its threshold; -1000 = the model's calibrated one, else " +
      format_number(siamese::decision_defaults::kNormalisedThreshold);
  static const std::string margin_blurb =
      "The best label's score must beat the second's by this much (in the metric's units; for "
      "euclidean, in distance), else the frame is unknown (ambiguous); -1 = the model's "
      "recommended one, else " +
      format_number(siamese::decision_defaults::kMargin);
  g_object_class_install_property(
      gobject_class, PROP_FALSE_ACCEPT_RATE,
      g_param_spec_double("false-accept-rate", "False-accept rate",
                          "Use the model's thresholds calibrated at this rate of never-enrolled "
                          "frames accepted (the largest calibrated rate not above it), when the "
                          "model carries them; threshold and normalised-threshold override",
                          1e-6, 1.0, DEFAULT_FALSE_ACCEPT_RATE, playing_flags));
  g_object_class_install_property(
      gobject_class, PROP_NORMALISE,
      g_param_spec_enum("normalise", "Normalise",
                        "Normalise scores against the model's cohort: auto = as the model "
                        "recommends, else on when it carries a cohort; on without a cohort "
                        "is an error",
                        normalise_get_type(), static_cast<gint>(DEFAULT_NORMALISE),
                        playing_flags));
  g_object_class_install_property(
      gobject_class, PROP_NORMALISED_THRESHOLD,
      g_param_spec_double("normalised-threshold", "Normalised threshold", normalised_blurb.c_str(),
                          NORMALISED_THRESHOLD_UNSET, 1000.0, NORMALISED_THRESHOLD_UNSET,
                          playing_flags));
  g_object_class_install_property(
      gobject_class, PROP_MARGIN,
      g_param_spec_double("margin", "Margin", margin_blurb.c_str(),
                          MARGIN_UNSET, 2.0, MARGIN_UNSET, playing_flags));
  g_object_class_install_property(
      gobject_class, PROP_BACKGROUND_MARGIN,
      g_param_spec_double(
          "background-margin", "Background margin",
          "With a model that carries a background, the frame's cosine to its best label must "
          "beat its cosine to the nearest background image by this much (negative: may fall "
          "short by that much), else the frame is unknown (background); -1000 = the model's "
          "recommended one, else no such rule; -2 = no such rule",
          BACKGROUND_MARGIN_UNSET, 2.0, BACKGROUND_MARGIN_UNSET, playing_flags));
  g_object_class_install_property(
      gobject_class, PROP_CONFIRM_FRAMES,
      g_param_spec_uint("confirm-frames", "Confirm frames",
                        "Declare a label (or unknown) for a region, or the whole frame, only "
                        "after this many consecutive embedded frames agree (1 = every frame "
                        "alone)",
                        1, 1000, DEFAULT_CONFIRM_FRAMES, playing_flags));
}

// The async mode (the doc block's "Async mode").
void install_async_properties(GObjectClass *gobject_class, GParamFlags ready_flags) {
  g_object_class_install_property(
      gobject_class, PROP_ASYNC,
      g_param_spec_boolean("async", "Async",
                           "Run forward passes on a thread of their own: frames pass on at once "
                           "and results ride on a later buffer, their timestamp naming their "
                           "frame (set at start)",
                           DEFAULT_ASYNC, ready_flags));
  g_object_class_install_property(
      gobject_class, PROP_ASYNC_QUEUE_SIZE,
      g_param_spec_uint("async-queue-size", "Async queue size",
                        "In async mode, how many frames may wait for the forward pass besides "
                        "the one in it; a frame arriving to a full queue drops the oldest "
                        "waiting one (set at start)",
                        1, MAX_ASYNC_QUEUE_SIZE, DEFAULT_ASYNC_QUEUE_SIZE, ready_flags));
  constexpr auto kReadOnly = static_cast<GParamFlags>(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_property(
      gobject_class, PROP_ASYNC_DROPPED,
      g_param_spec_uint64("async-dropped", "Async frames dropped",
                          "In async mode, frames dropped unembedded by a full queue since the "
                          "element started (0 otherwise)",
                          0, G_MAXUINT64, 0, kReadOnly));
}

// network-id or reference-set-id; the caller holds the object lock.
guint64 sharing_id(GstSiameseMatch *self, guint prop_id) {
  if (!self->state) return 0;
  const siamese::Recognizer &recognizer = *self->state->recognizer;
  return prop_id == PROP_NETWORK_ID ? recognizer.model().id() : recognizer.id();
}

}  // namespace

static void gst_siamese_match_set_property(GObject *object, guint prop_id, const GValue *value,
                                           GParamSpec *pspec);
static void gst_siamese_match_get_property(GObject *object, guint prop_id, GValue *value,
                                           GParamSpec *pspec);
static void store_property(Settings &settings, GObject *object, guint prop_id, const GValue *value,
                           GParamSpec *pspec);
static void gst_siamese_match_finalize(GObject *object);
static gboolean gst_siamese_match_start(GstBaseTransform *trans);
static gboolean gst_siamese_match_stop(GstBaseTransform *trans);
static gboolean gst_siamese_match_sink_event(GstBaseTransform *trans, GstEvent *event);
static GstFlowReturn gst_siamese_match_transform_ip(GstBaseTransform *trans, GstBuffer *buffer);

static void gst_siamese_match_class_init(GstSiameseMatchClass *klass) {
  GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS(klass);

  GST_DEBUG_CATEGORY_INIT(gst_siamese_match_debug, "siamesematch", 0, "Siamese embedding matcher");

  gobject_class->set_property = gst_siamese_match_set_property;
  gobject_class->get_property = gst_siamese_match_get_property;
  gobject_class->finalize = gst_siamese_match_finalize;

  constexpr auto kReadyFlags = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                                        GST_PARAM_MUTABLE_READY);
  constexpr auto kPlayingFlags = static_cast<GParamFlags>(
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING);

  g_object_class_install_property(
      gobject_class, PROP_MODEL,
      g_param_spec_string("model", "Model",
                          "ONNX embedding network (required); set while running, it is loaded in "
                          "the background and replaces the running one when ready",
                          nullptr,
                          kPlayingFlags));
  g_object_class_install_property(
      gobject_class, PROP_REFERENCE,
      g_param_spec_string("reference", "Reference folder",
                          "Folder of labelled images, <folder>/<label>/<image>.png|jpg (this, "
                          "gallery, or both); with a gallery, its new images are enrolled into "
                          "the gallery file",
                          nullptr, kPlayingFlags));
  g_object_class_install_property(
      gobject_class, PROP_METRIC,
      g_param_spec_enum("metric", "Metric", "How a frame is compared with a reference image",
                        metric_get_type(), static_cast<gint>(DEFAULT_METRIC), kPlayingFlags));
  g_object_class_install_property(
      gobject_class, PROP_THRESHOLD,
      g_param_spec_double("threshold", "Threshold",
                          "Decision threshold in the metric's units (cosine: similarity >= t, "
                          "euclidean: distance <= t, learned: probability >= t); -1 = the model's "
                          "calibrated one, else 0.5 / 1.0 / 0.5",
                          THRESHOLD_UNSET, 2.0, THRESHOLD_UNSET, kPlayingFlags));
  g_object_class_install_property(
      gobject_class, PROP_TOP_K,
      g_param_spec_uint("top-k", "Top k", "How many labels a result lists, best first", 0, G_MAXINT,
                        DEFAULT_TOP_K, kPlayingFlags));
  g_object_class_install_property(
      gobject_class, PROP_INTERVAL,
      g_param_spec_uint("interval", "Interval",
                        "Embed every Nth frame; the others carry the latest whole-frame result, "
                        "marked fresh=false, and post no message",
                        1, G_MAXUINT, DEFAULT_INTERVAL, kPlayingFlags));
  g_object_class_install_property(
      gobject_class, PROP_MESSAGES,
      g_param_spec_enum("messages", "Messages", "When to post a siamesematch element message",
                        messages_get_type(), static_cast<gint>(DEFAULT_MESSAGES), kPlayingFlags));
  g_object_class_install_property(
      gobject_class, PROP_INPUT_WIDTH,
      g_param_spec_int("input-width", "Input width", "Network input width (0 = from the model)", 0,
                       G_MAXINT, 0, kPlayingFlags));
  g_object_class_install_property(
      gobject_class, PROP_INPUT_HEIGHT,
      g_param_spec_int("input-height", "Input height", "Network input height (0 = from the model)",
                       0, G_MAXINT, 0, kPlayingFlags));
  g_object_class_install_property(
      gobject_class, PROP_COLOR_ORDER,
      g_param_spec_enum("color-order", "Colour order", "Channels the network expects",
                        color_order_get_type(), DEFAULT_COLOR_ORDER, kPlayingFlags));
  g_object_class_install_property(
      gobject_class, PROP_MEAN,
      g_param_spec_string("mean", "Mean",
                          "Per-channel mean on the 0-255 scale, \"r,g,b\" or one value, in the "
                          "network's channel order (empty = from the model)",
                          nullptr, kPlayingFlags));
  g_object_class_install_property(
      gobject_class, PROP_SCALE,
      g_param_spec_string("scale", "Scale",
                          "Per-channel factor applied after the mean, \"a,b,c\" or one value "
                          "(empty = from the model)",
                          nullptr, kPlayingFlags));
  g_object_class_install_property(
      gobject_class, PROP_THREADS,
      g_param_spec_int("threads", "Threads",
                       "OpenCV worker threads, set at start; process-wide, so it affects every "
                       "OpenCV user in the process (0 = leave OpenCV's setting alone)",
                       0, 256, DEFAULT_THREADS, kReadyFlags));
  g_object_class_install_property(
      gobject_class, PROP_REGIONS,
      g_param_spec_enum("regions", "Regions",
                        "What is embedded and tagged: the whole frame, only the regions of "
                        "interest upstream attached (e.g. a face detector's) that roi-types and "
                        "min-region-size accept, or those regions and else the whole frame",
                        regions_get_type(), DEFAULT_REGIONS, kPlayingFlags));
  g_object_class_install_property(
      gobject_class, PROP_ROI_TYPES,
      g_param_spec_string("roi-types", "Region types",
                          "Comma-separated region types to embed (the roi_type upstream gave, "
                          "e.g. \"face\" for facedetect); empty (default) = every type",
                          nullptr, kPlayingFlags));
  g_object_class_install_property(
      gobject_class, PROP_MIN_REGION_SIZE,
      g_param_spec_uint("min-region-size", "Minimum region size",
                        "Regions narrower or lower than this many pixels (after clipping to "
                        "the frame) are not embedded (0 = any size)",
                        0, G_MAXUINT, DEFAULT_MIN_REGION_SIZE, kPlayingFlags));
  g_object_class_install_property(
      gobject_class, PROP_GALLERY,
      g_param_spec_string("gallery", "Gallery file",
                          "Gallery file (siamese-gallery, or the save action) holding the "
                          "reference set; refused when another model made it.  With reference "
                          "set too, created or extended from the folder",
                          nullptr, kPlayingFlags));
  g_object_class_install_property(
      gobject_class, PROP_INDEX,
      g_param_spec_enum("index", "Index",
                        "How templates are searched: exact brute force, FAISS flat (exact), or "
                        "FAISS HNSW (approximate, for very large galleries)",
                        index_get_type(), static_cast<gint>(DEFAULT_INDEX), kPlayingFlags));
  // The default is the rule measured best on validation data (core/decision_defaults.h).
  g_object_class_install_property(
      gobject_class, PROP_AGGREGATE,
      g_param_spec_enum("aggregate", "Aggregate",
                        "How a label's reference images make its score: its best single image, "
                        "or its prototype (the normalised mean of their normalised embeddings); "
                        "applies to folders, galleries, enrolments and every index",
                        aggregate_get_type(), static_cast<gint>(DEFAULT_AGGREGATE),
                        kPlayingFlags));
  install_sharing_properties(gobject_class, kPlayingFlags);
  install_async_properties(gobject_class, kReadyFlags);
  install_open_set_properties(gobject_class, kPlayingFlags);

  // Action signals, documented in the element's doc block.
  const auto action_flags = static_cast<GSignalFlags>(G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION);
  gst_siamese_match_signals[SIGNAL_ENROLL] = g_signal_new_class_handler(
      "enroll", G_TYPE_FROM_CLASS(klass), action_flags, G_CALLBACK(on_enroll), nullptr, nullptr,
      nullptr, G_TYPE_BOOLEAN, 2, G_TYPE_STRING, G_TYPE_STRING);
  gst_siamese_match_signals[SIGNAL_ENROLL_FRAME] = g_signal_new_class_handler(
      "enroll-frame", G_TYPE_FROM_CLASS(klass), action_flags, G_CALLBACK(on_enroll_frame),
      nullptr, nullptr, nullptr, G_TYPE_BOOLEAN, 2, G_TYPE_STRING, G_TYPE_INT);
  gst_siamese_match_signals[SIGNAL_REMOVE] = g_signal_new_class_handler(
      "remove", G_TYPE_FROM_CLASS(klass), action_flags, G_CALLBACK(on_remove), nullptr, nullptr,
      nullptr, G_TYPE_BOOLEAN, 1, G_TYPE_STRING);
  gst_siamese_match_signals[SIGNAL_SAVE] = g_signal_new_class_handler(
      "save", G_TYPE_FROM_CLASS(klass), action_flags, G_CALLBACK(on_save), nullptr, nullptr,
      nullptr, G_TYPE_BOOLEAN, 1, G_TYPE_STRING);
  gst_siamese_match_signals[SIGNAL_RELOAD] = g_signal_new_class_handler(
      "reload", G_TYPE_FROM_CLASS(klass), action_flags, G_CALLBACK(on_reload), nullptr, nullptr,
      nullptr, G_TYPE_BOOLEAN, 0);

  gst_element_class_set_static_metadata(
      element_class, "Siamese matcher", "Filter/Analyzer/Video",
      "Tags frames with their best match from a reference set using a Siamese embedding network",
      "The siamesematch maintainers");
  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);

  trans_class->start = GST_DEBUG_FUNCPTR(gst_siamese_match_start);
  trans_class->stop = GST_DEBUG_FUNCPTR(gst_siamese_match_stop);
  trans_class->sink_event = GST_DEBUG_FUNCPTR(gst_siamese_match_sink_event);
  // Replaces GstVideoFilter's transform_ip, which maps frames writable.
  trans_class->transform_ip = GST_DEBUG_FUNCPTR(gst_siamese_match_transform_ip);

  gst_type_mark_as_plugin_api(metric_get_type(), static_cast<GstPluginAPIFlags>(0));
  gst_type_mark_as_plugin_api(messages_get_type(), static_cast<GstPluginAPIFlags>(0));
  gst_type_mark_as_plugin_api(color_order_get_type(), static_cast<GstPluginAPIFlags>(0));
  gst_type_mark_as_plugin_api(index_get_type(), static_cast<GstPluginAPIFlags>(0));
  gst_type_mark_as_plugin_api(aggregate_get_type(), static_cast<GstPluginAPIFlags>(0));
  gst_type_mark_as_plugin_api(normalise_get_type(), static_cast<GstPluginAPIFlags>(0));
  gst_type_mark_as_plugin_api(regions_get_type(), static_cast<GstPluginAPIFlags>(0));
}

static void gst_siamese_match_init(GstSiameseMatch *self) {
  new (&self->settings) Settings();
  new (&self->state) std::unique_ptr<State>();
  new (&self->edits) std::mutex();
  new (&self->reloader) Reloader();
  // In place and never passthrough: GstBaseTransform then hands
  // transform_ip a writable buffer, which adding metadata needs.
  gst_base_transform_set_in_place(GST_BASE_TRANSFORM(self), TRUE);
  gst_base_transform_set_passthrough(GST_BASE_TRANSFORM(self), FALSE);
  // GstVideoFilter turns QoS on; an analytics element turns it off, so that
  // a slow machine delays results instead of silently losing frames (the
  // manual's "Quality of service").
  gst_base_transform_set_qos_enabled(GST_BASE_TRANSFORM(self), FALSE);
}

static void gst_siamese_match_finalize(GObject *object) {
  GstSiameseMatch *self = GST_SIAMESE_MATCH(object);
  join_reloads(self);
  self->reloader.~Reloader();
  self->edits.~mutex();
  self->state.~unique_ptr<State>();
  self->settings.~Settings();
  G_OBJECT_CLASS(gst_siamese_match_parent_class)->finalize(object);
}

static void gst_siamese_match_set_property(GObject *object, guint prop_id, const GValue *value,
                                           GParamSpec *pspec) {
  GstSiameseMatch *self = GST_SIAMESE_MATCH(object);
  {
    const ObjectLock lock(self);
    store_property(self->settings, object, prop_id, value, pspec);
  }
  if (rebuilds(prop_id)) request_reload(self);
}

static void store_property(Settings &settings, GObject *object, guint prop_id, const GValue *value,
                           GParamSpec *pspec) {
  const auto string_or_empty = [value] {
    const gchar *text = g_value_get_string(value);
    return std::string(text ? text : "");
  };
  switch (prop_id) {
    case PROP_MODEL: settings.model = string_or_empty(); break;
    case PROP_REFERENCE: settings.reference = string_or_empty(); break;
    case PROP_METRIC:
      settings.metric = static_cast<siamese::Metric>(g_value_get_enum(value));
      break;
    case PROP_THRESHOLD: settings.threshold = g_value_get_double(value); break;
    case PROP_TOP_K: settings.top_k = g_value_get_uint(value); break;
    case PROP_INTERVAL: settings.interval = g_value_get_uint(value); break;
    case PROP_MESSAGES:
      settings.messages = static_cast<siamese::ReportPolicy>(g_value_get_enum(value));
      break;
    case PROP_INPUT_WIDTH: settings.input_width = g_value_get_int(value); break;
    case PROP_INPUT_HEIGHT: settings.input_height = g_value_get_int(value); break;
    case PROP_COLOR_ORDER:
      settings.color_order = static_cast<GstSiameseMatchColorOrder>(g_value_get_enum(value));
      break;
    case PROP_MEAN: settings.mean = string_or_empty(); break;
    case PROP_SCALE: settings.scale = string_or_empty(); break;
    case PROP_THREADS: settings.threads = g_value_get_int(value); break;
    case PROP_REGIONS:
      settings.regions = static_cast<GstSiameseMatchRegions>(g_value_get_enum(value));
      break;
    case PROP_ROI_TYPES: settings.roi_types = split_list(string_or_empty()); break;
    case PROP_MIN_REGION_SIZE: settings.min_region_size = g_value_get_uint(value); break;
    case PROP_GALLERY: settings.gallery = string_or_empty(); break;
    case PROP_INDEX:
      settings.index = static_cast<siamese::SearchIndex>(g_value_get_enum(value));
      break;
    case PROP_AGGREGATE:
      settings.aggregate = static_cast<siamese::Aggregate>(g_value_get_enum(value));
      break;
    case PROP_SHARE: settings.share = g_value_get_boolean(value); break;
    case PROP_FALSE_ACCEPT_RATE: settings.false_accept_rate = g_value_get_double(value); break;
    case PROP_NORMALISE:
      settings.normalisation = static_cast<siamese::Normalisation>(g_value_get_enum(value));
      break;
    case PROP_NORMALISED_THRESHOLD: settings.normalised_threshold = g_value_get_double(value); break;
    case PROP_MARGIN: settings.margin = g_value_get_double(value); break;
    case PROP_BACKGROUND_MARGIN: settings.background_margin = g_value_get_double(value); break;
    case PROP_CONFIRM_FRAMES: settings.confirm_frames = g_value_get_uint(value); break;
    case PROP_ASYNC: settings.async = g_value_get_boolean(value); break;
    case PROP_ASYNC_QUEUE_SIZE: settings.async_queue_size = g_value_get_uint(value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec); break;
  }
}

static void gst_siamese_match_get_property(GObject *object, guint prop_id, GValue *value,
                                           GParamSpec *pspec) {
  GstSiameseMatch *self = GST_SIAMESE_MATCH(object);
  const ObjectLock lock(self);
  const Settings &settings = self->settings;
  const auto string_or_null = [value](const std::string &text) {
    g_value_set_string(value, text.empty() ? nullptr : text.c_str());
  };
  switch (prop_id) {
    case PROP_MODEL: string_or_null(settings.model); break;
    case PROP_REFERENCE: string_or_null(settings.reference); break;
    case PROP_METRIC: g_value_set_enum(value, static_cast<gint>(settings.metric)); break;
    case PROP_THRESHOLD: g_value_set_double(value, settings.threshold); break;
    case PROP_TOP_K: g_value_set_uint(value, settings.top_k); break;
    case PROP_INTERVAL: g_value_set_uint(value, settings.interval); break;
    case PROP_MESSAGES: g_value_set_enum(value, static_cast<gint>(settings.messages)); break;
    case PROP_INPUT_WIDTH: g_value_set_int(value, settings.input_width); break;
    case PROP_INPUT_HEIGHT: g_value_set_int(value, settings.input_height); break;
    case PROP_COLOR_ORDER: g_value_set_enum(value, settings.color_order); break;
    case PROP_MEAN: string_or_null(settings.mean); break;
    case PROP_SCALE: string_or_null(settings.scale); break;
    case PROP_THREADS: g_value_set_int(value, settings.threads); break;
    case PROP_REGIONS: g_value_set_enum(value, settings.regions); break;
    case PROP_ROI_TYPES: g_value_set_string(value, join_list(settings.roi_types).c_str()); break;
    case PROP_MIN_REGION_SIZE: g_value_set_uint(value, settings.min_region_size); break;
    case PROP_GALLERY: string_or_null(settings.gallery); break;
    case PROP_INDEX: g_value_set_enum(value, static_cast<gint>(settings.index)); break;
    case PROP_AGGREGATE: g_value_set_enum(value, static_cast<gint>(settings.aggregate)); break;
    case PROP_SHARE: g_value_set_boolean(value, settings.share); break;
    case PROP_FALSE_ACCEPT_RATE: g_value_set_double(value, settings.false_accept_rate); break;
    case PROP_NORMALISE: g_value_set_enum(value, static_cast<gint>(settings.normalisation)); break;
    case PROP_NORMALISED_THRESHOLD: g_value_set_double(value, settings.normalised_threshold); break;
    case PROP_MARGIN: g_value_set_double(value, settings.margin); break;
    case PROP_BACKGROUND_MARGIN: g_value_set_double(value, settings.background_margin); break;
    case PROP_CONFIRM_FRAMES: g_value_set_uint(value, settings.confirm_frames); break;
    case PROP_ASYNC: g_value_set_boolean(value, settings.async); break;
    case PROP_ASYNC_QUEUE_SIZE: g_value_set_uint(value, settings.async_queue_size); break;
    case PROP_ASYNC_DROPPED:
      g_value_set_uint64(value, self->state && self->state->async ? self->state->async->dropped()
                                                                  : 0);
      break;
    case PROP_NETWORK_ID:
    case PROP_REFERENCE_SET_ID: g_value_set_uint64(value, sharing_id(self, prop_id)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec); break;
  }
}

static gboolean gst_siamese_match_start(GstBaseTransform *trans) {
  GstSiameseMatch *self = GST_SIAMESE_MATCH(trans);
  const Settings settings = copy_settings(self);
  siamese::Recognizer::Report report;
  std::unique_ptr<State> state;
  try {
    state = std::make_unique<State>(build_recognizer(self, settings, report));
    if (settings.async)
      state->async = std::make_unique<AsyncMatcher>(embed_and_match, settings.async_queue_size);
  } catch (...) {
    // Exceptions other than siamese::Error come from OpenCV running the model.
    const auto [kind, text] = current_error(siamese::ErrorKind::kModel);
    post_error(self, kind, text, GST_FUNCTION, __LINE__);
    return FALSE;
  }
  warn_skipped(self, report);
  const ObjectLock lock(self);
  self->state.swap(state);
  return TRUE;
}

static gboolean gst_siamese_match_stop(GstBaseTransform *trans) {
  GstSiameseMatch *self = GST_SIAMESE_MATCH(trans);
  std::unique_ptr<State> state;
  {
    const ObjectLock lock(self);
    self->state.swap(state);
  }
  join_reloads(self);  // a reload in progress finds no State and drops its result
  return TRUE;  // `state` (the network and references) is destroyed here, unlocked
}

static GstFlowReturn gst_siamese_match_transform_ip(GstBaseTransform *trans, GstBuffer *buffer) {
  GstSiameseMatch *self = GST_SIAMESE_MATCH(trans);
  GstVideoFilter *filter = GST_VIDEO_FILTER(trans);
  if (!filter->negotiated) {
    GST_ELEMENT_ERROR(self, CORE, NEGOTIATION, (nullptr), ("A buffer arrived before caps."));
    return GST_FLOW_NOT_NEGOTIATED;
  }
  const Settings settings = copy_settings(self);
  // None before start() has swapped the State in (see the maintainers'
  // comment at the top); the lock taken here orders this read after it.
  const std::shared_ptr<const siamese::Recognizer> recognizer = current_recognizer(self);
  if (!recognizer) return GST_FLOW_FLUSHING;
  State &state = *self->state;

  std::vector<GstMessage *> messages;
  try {
    messages = state.async ? process_buffer_async(self, state, recognizer, settings, buffer,
                                                  filter->in_info)
                           : process_buffer(self, state, *recognizer, settings, buffer,
                                            filter->in_info);
  } catch (...) {
    // Whatever failed, for the pipeline it is this frame that failed.
    post_error(self, siamese::ErrorKind::kFrame, current_error(siamese::ErrorKind::kFrame).second,
               GST_FUNCTION, __LINE__);
    return GST_FLOW_ERROR;
  }
  for (GstMessage *message : messages) gst_element_post_message(GST_ELEMENT(self), message);
  return GST_FLOW_OK;
}

// Serialized events arrive on the streaming thread, between buffers, so the
// stream's state is reset here without a lock, as transform_ip uses it.
// FLUSH_START comes from another thread, which may race with stop()
// destroying the State: it cancels the async worker (made for that, and the
// only part of the State it touches) under the lock that stop() swaps under.
static gboolean gst_siamese_match_sink_event(GstBaseTransform *trans, GstEvent *event) {
  GstSiameseMatch *self = GST_SIAMESE_MATCH(trans);
  State *state = nullptr;  // none before start(): see the maintainers' comment
  {
    const ObjectLock lock(self);
    state = self->state.get();
    // The frames handed over are flushed.
    if (GST_EVENT_TYPE(event) == GST_EVENT_FLUSH_START && state && state->async)
      state->async->cancel();
  }
  switch (GST_EVENT_TYPE(event)) {
    case GST_EVENT_FLUSH_STOP:
      if (state && state->async) state->async->cancel();
      if (state) state->reset_stream();
      break;
    case GST_EVENT_STREAM_START:
    case GST_EVENT_SEGMENT:
      finish_async(self, state);  // the results of the stream or segment so far, first
      if (state) state->reset_stream();
      break;
    case GST_EVENT_EOS: finish_async(self, state); break;
    default: break;
  }
  return GST_BASE_TRANSFORM_CLASS(gst_siamese_match_parent_class)->sink_event(trans, event);
}
