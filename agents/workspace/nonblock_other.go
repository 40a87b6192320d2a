//go:build !unix

package workspace

// nonBlock is 0 where there is no O_NONBLOCK; the Lstat before the open
// still refuses what is not a regular file.
const nonBlock = 0
