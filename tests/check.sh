# Assertions shared by the shell tests (sourced, not run).
passed=0
failed=0

# check NAME EXPECTED ACTUAL: counts a pass, or prints the failure.
check() {
	if [ "$2" = "$3" ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		echo "FAIL: $1: expected '$2', got '$3'"
	fi
}

# Prints the closing count and returns non-zero when a check failed.
finish_checks() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}
