package app_test

import "syscall"

// childProcAttr has the kernel kill a replica process if the test binary
// dies first (a -timeout panic, a kill), so none outlives its test.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
