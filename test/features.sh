# Integration tests of the listener features (issue 4), sourced by
# test/integration.sh: each function is one or more tests against Debian's
# real lighttpd with the module; feature_tests lists them in order.
feature_tests=()
