/* Differences between the lighttpd versions the module builds against,
 * decided by configure-time checks of lighttpd's headers, not by version
 * numbers. Included by the lighttpd glue only. */
#ifndef AUDIOSTREAM_COMPAT_H
#define AUDIOSTREAM_COMPAT_H

/* lighttpd 1.4.83 made r->handler_module a plugin_data_base * */
#ifdef AUDIOSTREAM_HANDLER_IS_PLUGIN_DATA
#define audiostream_set_handler(r, p) ((r)->handler_module = (plugin_data_base *)(p))
#else
#define audiostream_set_handler(r, p) ((r)->handler_module = (p)->self)
#endif

#endif
