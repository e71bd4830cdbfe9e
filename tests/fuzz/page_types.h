/*
 * page_types.h — the field types fuzz_page decodes pages as; the first byte of a page input indexes this
 * list. Shared by fuzz_page.c and make_seeds.c so seeds and target always agree.
 */
#ifndef FL_FUZZ_PAGE_TYPES_H
#define FL_FUZZ_PAGE_TYPES_H

static const char *const fuzz_page_types[] = {
    "v int32",
    "v string",
    "v list<list<float32>>",
    "v fixed_size_list<uint8, 8>",
    "v struct<a: int64, b: string>",
    "v bool",
    "v binary",
    "v int8",
    "v uint16",
    "v float64",
    "v timestamp",
    "v list<string>",
    "v struct<a: list<bool>, b: fixed_size_list<float32, 3>>",
    "v list<struct<x: int16, y: binary>>",
    "v fixed_size_list<list<uint64>, 2>",
};
#define FUZZ_PAGE_N_TYPES (sizeof fuzz_page_types / sizeof fuzz_page_types[0])

#endif
