/* The longest stream title, in bytes of UTF-8. Far above any "Artist -
 * Title", and small enough that an ICY metadata block (at most 4080 bytes)
 * always holds it, whatever its characters become there. */
#ifndef TITLE_H
#define TITLE_H

#define TITLE_MAX 1024

#endif
