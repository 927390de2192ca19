// Package hugepages asks the kernel to back the Go heap with transparent
// huge pages.
//
// A large simulation touches a few cache lines of each of hundreds of
// thousands of nodes in random order, so nearly every access misses the
// TLB as well as the cache. With 2 MiB pages instead of 4 KiB ones the page
// walks mostly go away. The Go runtime does not mark its heap for huge
// pages, and on kernels whose THP mode is "madvise" (the common default)
// none are used unless a mapping asks. Advisor asks: every so often it
// lists the process's anonymous read-write mappings of at least 2 MiB (the
// heap arenas among them) and calls madvise(MADV_HUGEPAGE) on the ones it
// has not seen. It changes nothing a program can observe but its speed and
// the granularity of its memory.
package hugepages
