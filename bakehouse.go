// Package bakehouse holds Bakehouse's domain types and pure rules: bake
// requests, statuses, keys, image and package names. It does no I/O so the
// rules can be tested against Rosco's conformance cases in isolation.
package bakehouse
