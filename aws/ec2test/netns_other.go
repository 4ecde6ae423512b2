//go:build !linux

package ec2test

import (
	"errors"
	"syscall"
)

func netnsAttr() (*syscall.SysProcAttr, error) {
	return nil, errors.New("network namespaces are Linux's")
}

func loopbackUp() error { return errors.New("network namespaces are Linux's") }
