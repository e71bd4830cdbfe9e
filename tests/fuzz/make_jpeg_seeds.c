/*
 * make_jpeg_seeds.c — writes the seed corpus of fuzz_jpeg (tests/fuzz/corpus/fuzz_jpeg): small real JPEGs
 * encoded with libturbojpeg (baseline, grayscale, 4:2:0, progressive), each under
 * 4 KB. tests/cli/run.sh also ingests these files. Not part of the build; regenerate with
 *   cc -std=c11 -O1 -o /tmp/make_jpeg_seeds tests/fuzz/make_jpeg_seeds.c -lturbojpeg &&
 *   /tmp/make_jpeg_seeds tests/fuzz/corpus/fuzz_jpeg
 */
#include <stdio.h>
#include <stdlib.h>
#include <turbojpeg.h>

/* A smooth gradient with a diagonal stripe, so the files are small but not trivial. */
static unsigned char *picture(int width, int height, int channels) {
    unsigned char *p = malloc((size_t)width * height * channels);
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
            for (int c = 0; c < channels; c++)
                p[((size_t)y * width + x) * channels + c] = (unsigned char)((x * 255 / width + y * 3 * (c + 1) + ((x + y) % 16 < 4) * 80) & 255);
    return p;
}

static int write_jpeg(const char *dir, const char *name, int width, int height, int gray, int subsamp, int flags) {
    tjhandle tj = tjInitCompress();
    unsigned char *pixels = picture(width, height, gray ? 1 : 3), *jpeg = NULL;
    unsigned long size = 0;
    int rc = tjCompress2(tj, pixels, width, 0, height, gray ? TJPF_GRAY : TJPF_RGB, &jpeg, &size, gray ? TJSAMP_GRAY : subsamp, 75, flags);
    if (rc == 0) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(jpeg, 1, size, f) != size || fclose(f) != 0) rc = -1;
        else printf("%s: %lu bytes\n", path, size);
    } else {
        fprintf(stderr, "%s: %s\n", name, tjGetErrorStr2(tj));
    }
    tjFree(jpeg);
    free(pixels);
    tjDestroy(tj);
    return rc;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: make_jpeg_seeds DIR\n");
        return 2;
    }
    int rc = write_jpeg(argv[1], "baseline-64x48.jpg", 64, 48, 0, TJSAMP_444, 0);
    rc |= write_jpeg(argv[1], "gray-17x9.jpg", 17, 9, 1, TJSAMP_GRAY, 0);
    rc |= write_jpeg(argv[1], "subsampled-33x17.jpg", 33, 17, 0, TJSAMP_420, 0);
    rc |= write_jpeg(argv[1], "progressive-40x30.jpg", 40, 30, 0, TJSAMP_420, TJFLAG_PROGRESSIVE);
    return rc ? 1 : 0;
}
