#!/usr/bin/env bash
# check-tracked.sh fails when git tracks a build output: a file over 1 MB, an
# executable binary (ELF, Mach-O or PE), or a file with the executable bit
# that holds NUL bytes. Fixtures that must be tracked anyway are allowed by
# exact path in ALLOWED below. make test runs it first.
set -euo pipefail
cd "$(dirname "$0")/.."

ALLOWED="" # space-separated paths

git ls-files -z -s | ALLOWED="$ALLOWED" perl -0 -ne '
	BEGIN { %ok = map { $_ => 1 } split " ", $ENV{ALLOWED}; $bad = 0 }
	chomp;
	my ($meta, $f) = split /\t/, $_, 2;
	my ($mode) = split / /, $meta;
	next if $ok{$f} || !-f $f;
	my $size = -s $f;
	if ($size > 1024 * 1024) {
		print STDERR "check-tracked: $f is $size bytes (over 1 MB): untrack it (git rm --cached), ignore it, or allow it by name in scripts/check-tracked.sh\n";
		$bad = 1; next;
	}
	open my $fh, "<:raw", $f or next;
	read $fh, my $head, 8000; close $fh;
	if ($head =~ /\A(\x7fELF|\xcf\xfa\xed\xfe|\xce\xfa\xed\xfe|\xfe\xed\xfa\xcf|\xfe\xed\xfa\xce|MZ)/) {
		print STDERR "check-tracked: $f is an executable binary: untrack it (git rm --cached) and ignore it\n";
		$bad = 1; next;
	}
	if ($mode eq "100755" && index($head, "\0") >= 0) {
		print STDERR "check-tracked: $f is executable and binary: untrack it (git rm --cached) and ignore it\n";
		$bad = 1;
	}
	END { exit $bad }
'
