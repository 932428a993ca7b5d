//go:build !linux

package app_test

import "syscall"

// childProcAttr: only Linux can tie a child's life to its parent's; on
// other systems the test's cleanup is what stops the replica processes.
func childProcAttr() *syscall.SysProcAttr { return nil }
