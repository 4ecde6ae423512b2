// Package packer runs the real packer binary for Bakehouse, in the manner
// of hashicorp/terraform-exec: it validates the binary, turns the argument
// list the bakery computed into an exec.Cmd (never through a shell), runs it
// in its own process group so that a cancel reaches Packer and everything
// it started, streams its combined output line by line with secrets masked,
// and scrapes the finished output for the bake's results the way Rosco
// does.
//
// Packer's output never leaves this package unmasked: every line handed to
// a callback or kept in a Result has the masked values replaced by
// "******", the mask bakehouse.MaskArgv puts in the command line.
package packer
