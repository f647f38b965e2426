#!/usr/bin/env bash
# deps.sh - install the Debian packages kiln needs, only those missing.
# Idempotent; run as root on Debian 12 (uses sudo when not root).
#   scripts/deps.sh            build, tests, demo
#   scripts/deps.sh --bench    plus what bench/ compares against
#   scripts/deps.sh --lint     plus the linters of `make lint`
set -euo pipefail

pkgs=(
	gcc make pkg-config git ca-certificates curl
	clang libclang-rt-14-dev           # fuzzing (libFuzzer) and sanitizer runtimes
	libcmocka-dev                      # unit tests
	libjansson-dev                     # JSON
	libssl-dev                         # sha256
	liblinear-dev                      # logistic regression / linear SVM
	libxgboost-dev                     # gradient-boosted trees
	libmicrohttpd-dev                  # HTTP server (serve, server)
	libcurl4-openssl-dev               # HTTP client, S3
	libyaml-dev                        # workflow files
	libgit2-dev                        # repositories, triggers
	libsqlite3-dev                     # metadata store
	libpq-dev postgresql               # PostgreSQL store backend and its e2e test server
	prometheus                         # promtool and a real Prometheus for /metrics tests
	wrk                                # HTTP load for kiln serve hot-swap tests
	bubblewrap                         # kiln run --sandbox
	python3                            # e2e checks use the standard library only
)
for arg in "$@"; do
	case "$arg" in
	--bench) pkgs+=(python3-sklearn python3-xgboost python3-pandas time hyperfine wrk nginx python3-joblib
		python3-flask gunicorn python3-fastapi uvicorn python3-uvloop python3-httptools) ;;
	--lint) pkgs+=(clang-format clang-tidy cppcheck) ;;
	*) echo "deps.sh: unknown option '$arg'" >&2; exit 2 ;;
	esac
done

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q >/dev/null
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
