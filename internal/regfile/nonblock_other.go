//go:build !unix

package regfile

// nonBlock is 0 where there is no O_NONBLOCK; the check before the open
// still refuses what is not a regular file.
const nonBlock = 0
