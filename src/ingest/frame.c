/*
 * frame.c — fl_frame, the unit every footage source produces (see ingest.h).
 */
#include "ingest.h"

#include "../common/common.h"

void fl_frame_clear(fl_frame *f) {
    if (!f) return;
    for (size_t i = 0; i < f->n_labels; i++) {
        fl_free(f->labels[i].category);
        fl_free(f->labels[i].traffic_light_color);
    }
    fl_free(f->labels);
    fl_free(f->name);
    fl_free(f->weather);
    fl_free(f->scene);
    fl_free(f->timeofday);
    memset(f, 0, sizeof *f);
}

bool fl_frame_add_label(fl_frame *f, const char *category, const float box[4], bool occluded, bool truncated,
                        const char *traffic_light_color) {
    if (!fl_reserve((void **)&f->labels, &f->cap_labels, f->n_labels + 1, sizeof *f->labels, 16)) return false;
    fl_label *l = &f->labels[f->n_labels];
    *l = (fl_label){.occluded = occluded, .truncated = truncated};
    memcpy(l->box, box, sizeof l->box);
    l->category = fl_strndup(category, strlen(category));
    l->traffic_light_color = traffic_light_color ? fl_strndup(traffic_light_color, strlen(traffic_light_color)) : NULL;
    if (!l->category || (traffic_light_color && !l->traffic_light_color)) {
        fl_free(l->category);
        fl_free(l->traffic_light_color);
        return false;
    }
    f->n_labels++;
    return true;
}
