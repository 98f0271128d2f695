/* libFuzzer target: the MP3 frame parser (mp3_frame.c). A parsed frame
 * must fit what was given and the whole-frames prefix must be a chain of
 * frames that parse. */
#include <assert.h>
#include <stdint.h>

#include "mp3_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mp3_frame_info fi;
    const size_t at = mp3_frame_sync(data, size);
    assert(at <= size);
    if (mp3_frame_parse(data + at, size - at, &fi) == 0)
        assert(fi.length >= MP3_FRAME_HEADER_LEN && fi.length <= MP3_FRAME_MAX_LEN);
    const size_t whole = mp3_frame_whole_prefix(data, size);
    assert(whole <= size);
    for (size_t off = 0; off < whole; off += fi.length) {
        assert(mp3_frame_parse(data + off, whole - off, &fi) == 0);
        assert(fi.length <= whole - off);
    }
    return 0;
}
