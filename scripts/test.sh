#!/usr/bin/env bash
# npm test: ESLint, Prettier, knip and tsc beside jest rather than before it. Jest's stack tests
# spend much of their run waiting on sockets and timers; the checks run at a lower CPU priority
# and use that idle time (first, they added about 90 s on two cores). Their output follows
# jest's. Any failure fails the run.
set -u
cd "$(dirname "$0")/.."
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

check() {
  nice -n 10 npm run --silent "$1" >"$logs/$1" 2>&1
  echo $? >"$logs/$1.code"
}
check lint &
check typecheck &

npm run --silent test:jest -- "$@"
jest=$?
wait

status=$jest
for name in lint typecheck; do
  code=$(cat "$logs/$name.code")
  if [ "$code" -ne 0 ]; then
    echo "npm run $name failed (exit $code):"
    cat "$logs/$name"
    status=1
  else
    echo "npm run $name: passed"
  fi
done
exit "$status"
