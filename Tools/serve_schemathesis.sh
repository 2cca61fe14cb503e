#!/usr/bin/env bash
# schemathesis against a running `kiln-run serve` (loopback), from docs/openapi.yaml: generated
# requests for every operation, each response checked for 5xx and against the response schemas.
#
#   Tools/serve_schemathesis.sh http://127.0.0.1:PORT [MAX_EXAMPLES]
#
# Start the server with a small --ctx (ServeTests uses 96) so every generated request ends
# quickly. One check is left out: positive_data_acceptance expects every schema-valid request
# to succeed, but whether a prompt or max_tokens fits the context depends on the server's --ctx
# and the tokenizer, which a schema cannot express; those requests get the documented 400.
# Deterministic generation, so a run repeats. Bounded: MAX_EXAMPLES (default 30) per operation.
set -euo pipefail
cd "$(dirname "$0")/.."
URL=${1:?usage: Tools/serve_schemathesis.sh http://127.0.0.1:PORT [MAX_EXAMPLES]}
case $URL in http://127.0.0.1:*|http://localhost:*) ;; *) echo "serve_schemathesis: loopback only" >&2; exit 2 ;; esac
exec schemathesis run docs/openapi.yaml --url "$URL" --checks all --exclude-checks positive_data_acceptance \
    --max-examples "${2:-30}" --request-timeout 120 --generation-deterministic
